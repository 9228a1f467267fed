import TensorCore

/// Random crop with zero padding and random horizontal flip, drawn per sample for every
/// training batch (the CIFAR recipe of He et al. 2016: pad 4, crop 32x32, flip).
///
/// For each sample of a batch, in batch order (the epoch's shuffled order), the generator
/// gives, in this order:
/// 1. when `pad > 0`: `dy = nextInt(below: 2·pad + 1)`, then `dx = nextInt(below: 2·pad + 1)`;
/// 2. when `flip`: `flipped = nextUniform() < 0.5`.
///
/// The sample `x` (`[C, H, W]`) becomes `y[c, i, j] = x[c, i + dy − pad, j' + dx − pad]`, 0 where
/// that index falls outside `x` (zero padding of the model's input, so after `data.normalize`
/// the pad value is the channel mean), with `j' = W − 1 − j` when flipped and `j' = j` otherwise
/// (the crop is taken first, then mirrored). `pad = 0` and no flip leave every sample as it is
/// and draw nothing.
///
/// The generator is `RandomSource` (xoshiro256** seeded by SplitMix64): `nextInt(below: n)` is
/// Lemire's method on one 64-bit draw `r` (the high word of r·n; when the low word is below n,
/// draws are rejected while the low word is below (2^64 − n) mod n), and `nextUniform()` is
/// `(next() >> 11) · 2^−53`. Its state is part of every checkpoint.
public struct Augmentation: Sendable {
    public let pad: Int
    public let flip: Bool
    public var rng: RandomSource

    public init(pad: Int, flip: Bool, rng: RandomSource) {
        precondition(pad >= 0, "pad must be >= 0, got \(pad)")
        self.pad = pad
        self.flip = flip
        self.rng = rng
    }

    /// The next sample's crop offsets (each in `0...2·pad`) and flip, in the documented order.
    public mutating func draw() -> (dy: Int, dx: Int, flipped: Bool) {
        var dy = pad, dx = pad
        if pad > 0 {
            dy = rng.nextInt(below: 2 * pad + 1)
            dx = rng.nextInt(below: 2 * pad + 1)
        }
        let flipped = flip && rng.nextUniform() < 0.5
        return (dy, dx, flipped)
    }

    /// Augments every sample of `batch` (`[B, C, H, W]`), drawing once per sample in row order.
    public mutating func apply(to batch: inout Tensor) {
        precondition(batch.rank == 4, "augmentation takes [B, C, H, W] batches, got \(batch.shape)")
        let (b, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        let draws = (0..<b).map { _ in draw() }
        let source = batch.scalars
        batch.scalars.withUnsafeMutableBufferPointer { out in
            source.withUnsafeBufferPointer { x in
                for s in 0..<b {
                    let (dy, dx, flipped) = draws[s]
                    for ch in 0..<c {
                        let base = (s * c + ch) * h * w
                        for i in 0..<h {
                            let si = i + dy - pad
                            for j in 0..<w {
                                let sj = (flipped ? w - 1 - j : j) + dx - pad
                                let inside = si >= 0 && si < h && sj >= 0 && sj < w
                                out[base + i * w + j] = inside ? x[base + si * w + sj] : 0
                            }
                        }
                    }
                }
            }
        }
    }
}

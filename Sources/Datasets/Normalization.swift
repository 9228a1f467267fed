import TensorCore

/// Per-channel standardisation of `[N, C, H, W]` inputs: x' = (x − mean_c) / std_c.
///
/// `mean` and `std` hold one value per channel. `fitted(to:)` computes them from a set: the
/// mean and the population standard deviation (divisor N·H·W, numpy's `std` with `ddof=0`) of
/// each channel's values over every sample and pixel, accumulated in `Double`.
public struct Normalization: Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        precondition(mean.count == std.count, "\(mean.count) means but \(std.count) standard deviations")
        self.mean = mean
        self.std = std
    }

    /// The statistics of `set`'s channels (its sample shape is `[C, ...]`).
    public static func fitted(to set: Dataset) -> Normalization {
        let c = set.sampleShape.first ?? 1, plane = set.sampleSize / max(c, 1)
        var sum = [Double](repeating: 0, count: c), squares = [Double](repeating: 0, count: c)
        set.images.scalars.withUnsafeBufferPointer { x in
            for i in 0..<set.count {
                for ch in 0..<c {
                    let base = (i * c + ch) * plane
                    var mean = 0.0
                    for p in 0..<plane { mean += Double(x[base + p]) }
                    sum[ch] += mean
                }
            }
        }
        let n = Double(set.count * plane)
        let mean = sum.map { $0 / n }
        set.images.scalars.withUnsafeBufferPointer { x in
            for i in 0..<set.count {
                for ch in 0..<c {
                    let base = (i * c + ch) * plane
                    for p in 0..<plane {
                        let d = Double(x[base + p]) - mean[ch]
                        squares[ch] += d * d
                    }
                }
            }
        }
        return Normalization(mean: mean, std: squares.map { ($0 / n).squareRoot() })
    }

    /// `set` with every value standardised by its channel's mean and std (computed in `Double`,
    /// stored as `Float`).
    public func applied(to set: Dataset) -> Dataset {
        var out = set
        out.images = Tensor(shape: set.images.shape, scalars: applied(to: set.images.scalars, plane: set.sampleSize / mean.count))
        return out
    }

    /// Channels-first values (`[N, C, H, W]` flattened, `plane` = H·W) standardised channel by
    /// channel.
    public func applied(to values: [Float], plane: Int) -> [Float] {
        let c = mean.count
        precondition(plane > 0 && values.count % (plane * c) == 0, "\(values.count) values are not planes of \(plane) in \(c) channels")
        var out = values
        out.withUnsafeMutableBufferPointer { x in
            for i in 0..<x.count {
                let ch = (i / plane) % c
                x[i] = Float((Double(x[i]) - mean[ch]) / std[ch])
            }
        }
        return out
    }
}

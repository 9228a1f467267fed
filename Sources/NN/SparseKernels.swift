import CSparseKernels
import Dispatch
import Synchronization
import TensorCore

/// Which product a sparse-capable layer runs:
/// - `auto`: the sparse kernels for a masked dense layer whose density is at most
///   `KernelCrossover.autoDensity`, SGEMM otherwise (convolutions alike). A fixed rule, so a
///   run's results depend only on its config and seed, and a resumed run continues exactly.
/// - `measured`: sparse where both kernels were timed for the layer's shape, batch and density
///   band and sparse was faster (SparseProp's rule). Fastest, but the choice is a timing, so two
///   processes may pick differently near the crossover and differ in the last bits.
/// - `dense`: always SGEMM; `sparse`: always the sparse kernels while the layer has a mask.
public enum KernelPolicy: String, Sendable, CaseIterable, Codable {
    case auto, measured, dense, sparse
}

/// The product a layer ran in its latest forward pass.
public enum KernelKind: String, Sendable, Codable {
    case dense, sparse
}

/// A layer whose products can run on the sparse kernels once its weight is masked (`Dense`,
/// `Conv2D`).
public protocol SparseCapableLayer: Layer {
    var kernelPolicy: KernelPolicy { get set }
    /// The measured choices this layer consults: one cache per model, shared with its
    /// replicas, so a run's kernels depend on that run's own measurements only (not on what
    /// an earlier run in the same process measured).
    var kernelChoices: KernelChoices { get set }
    var lastKernel: KernelKind { get }
    var weight: Parameter { get }
}

/// One crossover measurement: both kernels timed once for a layer shape, batch and density band.
public struct KernelMeasurement: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
    public var batch: Int
    public var inputGradient: Bool
    /// Density band: densities in `[band, band + 1) * bandWidth`.
    public var band: Int
    /// Density of the pattern that was timed.
    public var density: Double
    /// Best-of-repeats seconds of forward + backward (weight gradient, and input gradient when
    /// `inputGradient`) with SGEMM and with the sparse kernels.
    public var denseSeconds: Double
    public var sparseSeconds: Double
    public var choice: KernelKind
}

/// The measured choices of one model (shared by its replicas), guarded by a mutex: a worker
/// measuring holds it, so measurements do not overlap each other.
public final class KernelChoices: Sendable {
    let state = Mutex(KernelCrossover.State())

    public init() {}

    /// Every measurement this cache took, in order.
    public var measurements: [KernelMeasurement] { state.withLock { $0.log } }
}

/// The measured dense/sparse crossover, per (layer shape, batch, input gradient, density band).
///
/// The first time a layer in `auto` meets a key, both kernels run forward and backward on the
/// layer's own weights and pattern with synthetic activations (one warm-up, best of 5), and the
/// faster one is cached for the rest of the process (SparseProp's rule: swap in the sparse
/// layer only where it measured faster). Densities above `maxMeasuredDensity` are dense
/// without measuring (the sparse kernels need about 5x fewer weights to break even).
public enum KernelCrossover {
    public static let bandWidth = 0.05
    /// `auto`'s switch: masked layers at or below this density run sparse. LeNet-300-100's layers
    /// measured their crossover between densities 0.5 and 0.4 on AVX-512 (results/speed.md).
    /// LeNet-5's convolutions on the direct sparse convolution (`DirectSparseConv`), timed layer
    /// alone on a shared 2-core AMD EPYC (Zen 5): conv1 ahead of SGEMM at every density up to
    /// 0.5, conv2 ahead at 0.08 and about even at 0.3-0.5; at 0.4 sparse is ahead or even for all
    /// of them, and a switch a little late costs little.
    public static let autoDensity = 0.4
    public static let maxMeasuredDensity = 0.5

    struct Key: Hashable, Sendable {
        var rows: Int, cols: Int, batch: Int, inputGradient: Bool, band: Int
        /// Convolutions (the whole layer, im2col + SGEMM against the direct sparse convolution;
        /// `batch` is then the batch bucket's output positions).
        var im2col = false
    }

    struct State: Sendable {
        var choices: [Key: KernelKind] = [:]
        var log: [KernelMeasurement] = []
    }

    public static func band(of density: Double) -> Int { Int((density / bandWidth).rounded(.down)) }

    /// Batches share a measurement within a power-of-two bucket of their padded width (48 and
    /// 64 both time as 64), so an epoch's last, smaller batch costs no measurement of its own.
    public static func batchBucket(_ batch: Int) -> Int {
        var b = 16
        while b < batch { b *= 2 }
        return b
    }

    static func key(_ layer: Dense, _ pattern: SparsityPattern, _ batch: Int, _ inputGradient: Bool) -> Key {
        Key(
            rows: layer.outputSize, cols: layer.inputSize, batch: batchBucket(batch), inputGradient: inputGradient,
            band: band(of: pattern.density))
    }

    /// The cached choice, dense when this key was never measured.
    static func cachedChoice(for layer: Dense, pattern: SparsityPattern, batch: Int, inputGradient: Bool) -> KernelKind {
        if pattern.density > maxMeasuredDensity { return .dense }
        let k = key(layer, pattern, batch, inputGradient)
        return layer.kernelChoices.state.withLock { $0.choices[k] } ?? .dense
    }

    static func choice(for layer: Dense, pattern: SparsityPattern, batch: Int, inputGradient: Bool) -> KernelKind {
        let cache = layer.kernelChoices
        if pattern.density > maxMeasuredDensity { return .dense }
        let k = key(layer, pattern, batch, inputGradient)
        return choice(key: k, density: pattern.density, in: cache) {
            measure(layer: layer, pattern: pattern, batch: k.batch, inputGradient: inputGradient)
        }
    }

    /// The cached choice for `key`, measuring with `timing` (dense, sparse seconds) the first time.
    static func choice(key: Key, density: Double, in cache: KernelChoices, timing: () -> (dense: Double, sparse: Double)) -> KernelKind {
        cache.state.withLock { s in
            if let c = s.choices[key] { return c }
            let (d, sp) = timing()
            let c: KernelKind = sp < d ? .sparse : .dense
            s.choices[key] = c
            s.log.append(
                KernelMeasurement(
                    rows: key.rows, cols: key.cols, batch: key.batch, inputGradient: key.inputGradient,
                    band: key.band, density: density, denseSeconds: d,
                    sparseSeconds: sp, choice: c))
            return c
        }
    }

    /// Best-of-5 seconds of one forward + backward with each kernel on `layer`'s weights.
    public static func measure(
        layer: Dense, pattern: SparsityPattern, batch: Int,
        inputGradient: Bool
    ) -> (dense: Double, sparse: Double) {
        let out = layer.outputSize, inp = layer.inputSize
        var rng = RandomSource(seed: 12345)
        func buffer(_ n: Int, _ f: () -> Float) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            for i in 0..<n { p[i] = f() }
            return p
        }
        let x = buffer(batch * inp) { Float(rng.nextUniform()) }
        let dy = buffer(batch * out) { Float(rng.nextUniform() - 0.5) }
        let y = buffer(batch * out) { 0 }, g = buffer(out * inp) { 0 }
        let dx = buffer(batch * inp) { 0 }, gb = buffer(out) { 0 }
        let w = buffer(out * inp) { 0 }, b = buffer(out) { 0 }
        defer { for p in [x, dy, y, g, dx, gb, w, b] { p.deallocate() } }
        layer.weight.value.scalars.withUnsafeBufferPointer { w.update(from: $0.baseAddress!, count: out * inp) }
        layer.bias.value.scalars.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: out) }
        var scratch = SparseScratch()
        func time(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return best
        }
        let dense = time {
            BLAS.sgemm(transA: false, transB: true, m: batch, n: out, k: inp, a: x, b: w, c: y)
            BLAS.sgemm(transA: true, transB: false, m: out, n: inp, k: batch, a: dy, b: x, c: g)
            if inputGradient {
                BLAS.sgemm(transA: false, transB: false, m: batch, n: inp, k: out, a: dy, b: w, c: dx)
            }
        }
        let sparse = time {
            scratch.forward(pattern: pattern, w: w, bias: b, x: x, batch: batch, y: y)
            scratch.backward(
                pattern: pattern, w: w, dy: dy, batch: batch, gradW: g, gradB: gb,
                dx: inputGradient ? dx : nil)
        }
        return (dense, sparse)
    }
}

/// The transposed activation buffers of a layer's sparse path (one per layer and replica).
struct SparseScratch {
    var xt: [Float] = []
    var yt: [Float] = []
    var ld = 0

    static func leading(_ batch: Int) -> Int { (batch + 15) / 16 * 16 }

    /// `y[batch, out] = x[batch, in] W^T + b` over the pattern's entries; keeps `x^T` for backward.
    mutating func forward(
        pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        x: UnsafePointer<Float>, batch: Int, y: UnsafeMutablePointer<Float>
    ) {
        forward(pattern: pattern, w: w, bias: bias, batch: batch, y: y) { xt, ld in
            psk_transpose_pad(x, Int32(batch), Int32(pattern.cols), ld, xt)
        }
    }

    /// `forward` on the rows `rows` of `source` (`[count, in]` row-major), gathered straight into
    /// `x^T`: the same `x^T`, hence the same bits, without a row-major copy of the batch.
    mutating func forward(
        pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        source: UnsafePointer<Float>, rows: UnsafeBufferPointer<Int32>, y: UnsafeMutablePointer<Float>
    ) {
        forward(pattern: pattern, w: w, bias: bias, batch: rows.count, y: y) { xt, ld in
            psk_gather_transpose_pad(source, rows.baseAddress!, Int32(rows.count), Int32(pattern.cols), ld, xt)
        }
    }

    private mutating func forward(
        pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, batch: Int,
        y: UnsafeMutablePointer<Float>, fillTransposedInput: (UnsafeMutablePointer<Float>, Int32) -> Void
    ) {
        let out = pattern.rows, inp = pattern.cols
        ld = Self.leading(batch)
        if xt.count < inp * ld { xt = [Float](repeating: 0, count: inp * ld) }
        if yt.count < max(out, inp) * ld { yt = [Float](repeating: 0, count: max(out, inp) * ld) }
        let ld32 = Int32(ld)
        xt.withUnsafeMutableBufferPointer { pxt in
            yt.withUnsafeMutableBufferPointer { pyt in
                fillTransposedInput(pxt.baseAddress!, ld32)
                pattern.withCSR { ptr, flat, col in
                    psk_spmm_t(
                        Int32(out), ld32, ptr, flat, col,
                        w, pxt.baseAddress!, bias, pyt.baseAddress!)
                }
                psk_untranspose(pyt.baseAddress!, Int32(batch), Int32(out), ld32, y)
            }
        }
    }

    /// Weight gradient at the pattern's entries only, compact (`nonzeros` floats in CSR order, see
    /// `Parameter.compactGradient`; nil only for an empty pattern), bias gradient, and
    /// `dx[batch, in] = dy W` over the pattern when `dx` is given. Uses the `x^T` kept by the
    /// latest `forward`.
    mutating func backward(
        pattern: SparsityPattern, gradientPattern: SparsityPattern? = nil, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        batch: Int, gradW: UnsafeMutablePointer<Float>?, gradB: UnsafeMutablePointer<Float>,
        dx: UnsafeMutablePointer<Float>?
    ) {
        // the weight gradient at `gradientPattern`'s entries only (the trainable ones, when some
        // live weights are frozen); the input gradient through every live weight of `pattern`
        let gp = gradientPattern ?? pattern
        let out = pattern.rows, inp = pattern.cols
        precondition(ld == Self.leading(batch), "sparse backward without a matching forward")
        let ld32 = Int32(ld)
        // yt (sized max(out, in) * ld) holds dy^T; the input gradient goes through a second buffer.
        yt.withUnsafeMutableBufferPointer { pdyt in
            psk_transpose_pad(dy, Int32(batch), Int32(out), ld32, pdyt.baseAddress!)
            psk_row_sums(Int32(out), ld32, pdyt.baseAddress!, gradB)
            xt.withUnsafeBufferPointer { pxt in
                if out <= inp {
                    // by columns of W: row j of x^T stays in registers while the rows of dy^T it
                    // meets are read (out * ld floats, the smaller working set; measured faster
                    // for 784x300 at 50-70% sparsity)
                    gp.withCSC(positions: true) { ptr, at, row in
                        psk_sddmm_t(Int32(inp), ld32, ptr, at, row, pxt.baseAddress!, pdyt.baseAddress!, gradW)
                    }
                } else {
                    // entry k of the row walk is CSR entry k: no index array (NULL)
                    gp.withCSR { ptr, _, col in
                        psk_sddmm_t(Int32(out), ld32, ptr, nil, col, pdyt.baseAddress!, pxt.baseAddress!, gradW)
                    }
                }
            }
            guard let dx else { return }
            // x^T is no longer needed: reuse its buffer for dx^T
            xt.withUnsafeMutableBufferPointer { pdxt in
                pattern.withCSC { ptr, flat, row in
                    psk_spmm_t(
                        Int32(inp), ld32, ptr, flat, row,
                        w, pdyt.baseAddress!, nil, pdxt.baseAddress!)
                }
                psk_untranspose(pdxt.baseAddress!, Int32(batch), Int32(inp), ld32, dx)
            }
        }
    }
}

/// The sparse kernels' instruction-set path: "avx512", "avx2" or "portable".
public enum SparseKernelISA {
    public static var current: String {
        switch psk_isa() {
        case 3: return "avx512"
        case 2: return "avx2"
        default: return "portable"
        }
    }

    /// Forces a path on the calling thread for tests (`avx512`, `avx2`, `portable`), or nil for
    /// the automatic one.
    public static func force(_ name: String?) {
        switch name {
        case "avx512": psk_force_isa(3)
        case "avx2": psk_force_isa(2)
        case "portable": psk_force_isa(0)
        default: psk_force_isa(-1)
        }
    }
}

import CSparseKernels
import Dispatch
import Synchronization
import TensorCore

/// Which product a sparse-capable layer runs:
/// - `auto`: the sparse kernels for a masked dense layer whose density is at most
///   `KernelCrossover.autoDensity`, SGEMM otherwise (convolutions alike, except that a masked
///   convolution with at most `KernelCrossover.directConvTaps` taps per output runs the direct
///   sparse convolution at any density). A fixed rule, so a run's results depend only on its
///   config and seed, and a resumed run continues exactly.
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
    /// `auto` runs a masked convolution with at most this many taps per output (`inChannels ·
    /// k · k`: one input channel at 5x5) on the direct sparse convolution at any density: with so
    /// short an inner dimension SGEMM does little work per im2col column it waits for. LeNet-5's
    /// conv1 (20x1x5x5) at the workers' batch of 64, forward and backward, 2-core AMD EPYC Zen 5
    /// (the per-layer table of `experiments/bench_sparse_lenet5.py`, 2026-12-07): 1.17 ms direct
    /// at density 1 against 1.31 ms for im2col and SGEMM, 0.37 ms at density 0.1. Longer rows
    /// were not measured faster dense, so they keep the density rule.
    public static let directConvTaps = 25
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

/// A batch held transposed, the layout of the sparse kernels: `values` is `[features, ld]`
/// row-major, feature `f` of sample `b` at `values[f * ld + b]`, `ld` the batch rounded up to a
/// multiple of 16 (`SparseScratch.leading`). The padding columns `batch..<ld` are +0, exactly as
/// in the kernels' own transposes, so sums over all `ld` columns are those over the batch.
///
/// Consecutive sparse `Dense` layers of a `Sequential` (with element-wise activations between
/// them) pass their activations forward, and their gradients backward, in this layout: no
/// untranspose after one layer and transpose before the next.
public struct TransposedBatch {
    public var values: Tensor
    public let batch: Int

    public var features: Int { values.shape[0] }
    public var ld: Int { values.shape[1] }

    /// An uninitialized `[features, leading(batch)]` batch, to be filled by a kernel (which
    /// must leave the padding +0, or call `zeroPadding`).
    init(features: Int, batch: Int) {
        values = Tensor(uninitializedShape: [features, SparseScratch.leading(batch)])
        self.batch = batch
    }

    init(values: Tensor, batch: Int) {
        precondition(values.shape.count == 2 && values.shape[1] == SparseScratch.leading(batch))
        self.values = values
        self.batch = batch
    }

    /// Sets the padding columns `batch..<ld` of every row to +0.
    mutating func zeroPadding() {
        let ld = self.ld, pad = ld - batch
        guard pad > 0 else { return }
        values.scalars.withUnsafeMutableBufferPointer { p in
            for f in 0..<(p.count / ld) { (p.baseAddress! + f * ld + batch).update(repeating: 0, count: pad) }
        }
    }
}

/// A batch passed between the layers of a `Sequential`: row-major `[batch, ...]` (what every
/// layer takes) or transposed (between consecutive sparse dense layers, see `TransposedBatch`).
public enum LayerValues {
    case rowMajor(Tensor)
    case transposed(TransposedBatch)

    /// The row-major tensor; the layout plan of `Sequential` never hands a transposed batch to
    /// a layer that needs rows.
    var rowMajor: Tensor {
        guard case .rowMajor(let t) = self else { preconditionFailure("a transposed batch where rows were expected") }
        return t
    }
}

/// The transposed activation buffers of a layer's sparse path (one per layer and replica).
struct SparseScratch {
    /// `x^T` `[in, ld]` when the layer transposed its input itself; after backward, `dx^T`.
    var xt: [Float] = []
    /// `y^T` `[out, ld]` before its untranspose; in backward, `dy^T`.
    var yt: [Float] = []
    /// `x^T` handed over by the layer before (kept for the weight gradient); nil when `xt` holds it.
    var handedInput: Tensor?
    var ld = 0

    static func leading(_ batch: Int) -> Int { (batch + 15) / 16 * 16 }

    /// `y[batch, out] = x[batch, in] W^T + b` over the pattern's entries; keeps `x^T` for backward.
    mutating func forward(
        pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        x: UnsafePointer<Float>, batch: Int, y: UnsafeMutablePointer<Float>
    ) {
        loadInput(rows: x, batch: batch, inputs: pattern.cols)
        forward(pattern: pattern, w: w, bias: bias, batch: batch, y: y)
    }

    /// Puts `x^T` `[in, ld]` into `xt` with `fill(xt, ld)` (a transpose, or a gather of rows of
    /// a set straight into `x^T`: the same `x^T`, hence the same bits, without a row-major copy).
    mutating func loadInput(batch: Int, inputs: Int, _ fill: (UnsafeMutablePointer<Float>, Int32) -> Void) {
        ld = Self.leading(batch)
        handedInput = nil
        if xt.count < inputs * ld { xt = [Float](repeating: 0, count: inputs * ld) }
        let ld32 = Int32(ld)
        xt.withUnsafeMutableBufferPointer { fill($0.baseAddress!, ld32) }
    }

    /// Loads `x^T` from a row-major batch `x[batch, inputs]`.
    mutating func loadInput(rows x: UnsafePointer<Float>, batch: Int, inputs: Int) {
        loadInput(batch: batch, inputs: inputs) { xt, ld in psk_transpose_pad(x, Int32(batch), Int32(inputs), ld, xt) }
    }

    /// Loads `x^T` from the rows `rows` of `source` (`[count, inputs]` row-major), gathered
    /// straight into `x^T`.
    mutating func loadInput(gathering source: UnsafePointer<Float>, rows: UnsafeBufferPointer<Int32>, inputs: Int) {
        loadInput(batch: rows.count, inputs: inputs) { xt, ld in
            psk_gather_transpose_pad(source, rows.baseAddress!, Int32(rows.count), Int32(inputs), ld, xt)
        }
    }

    /// Takes `x^T` as handed over by the layer before (kept, not copied).
    mutating func loadInput(_ x: TransposedBatch) {
        ld = x.ld
        handedInput = x.values
    }

    /// Calls `body` with the current `x^T`.
    private func withInput<R>(_ body: (UnsafePointer<Float>) -> R) -> R {
        if let h = handedInput { return h.scalars.withUnsafeBufferPointer { body($0.baseAddress!) } }
        return xt.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// `y^T[out, ld] = W x^T + b` over the pattern's entries, from the loaded `x^T`.
    func multiply(pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, yt: UnsafeMutablePointer<Float>) {
        let ld32 = Int32(ld)
        withInput { pxt in
            pattern.withCSR { ptr, flat, col in psk_spmm_t(Int32(pattern.rows), ld32, ptr, flat, col, w, pxt, bias, yt) }
        }
    }

    /// `y[batch, out]` (row-major) from the loaded `x^T`.
    mutating func forward(
        pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, batch: Int,
        y: UnsafeMutablePointer<Float>
    ) {
        let out = pattern.rows
        if yt.count < max(out, pattern.cols) * ld { yt = [Float](repeating: 0, count: max(out, pattern.cols) * ld) }
        var yt = self.yt
        self.yt = []
        yt.withUnsafeMutableBufferPointer { pyt in
            multiply(pattern: pattern, w: w, bias: bias, yt: pyt.baseAddress!)
            psk_untranspose(pyt.baseAddress!, Int32(batch), Int32(out), Int32(ld), y)
        }
        self.yt = yt
    }

    /// `y^T` from the loaded `x^T`, kept transposed for the next sparse layer.
    func forwardTransposed(pattern: SparsityPattern, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, batch: Int) -> TransposedBatch {
        var y = TransposedBatch(features: pattern.rows, batch: batch)
        y.values.scalars.withUnsafeMutableBufferPointer { multiply(pattern: pattern, w: w, bias: bias, yt: $0.baseAddress!) }
        y.zeroPadding()  // the padding columns hold the bias there
        return y
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
        let out = pattern.rows, inp = pattern.cols
        precondition(ld == Self.leading(batch), "sparse backward without a matching forward")
        // yt holds dy^T; the input gradient goes through xt
        if yt.count < out * ld { yt = [Float](repeating: 0, count: out * ld) }
        var yt = self.yt
        self.yt = []
        yt.withUnsafeMutableBufferPointer { pdyt in
            psk_transpose_pad(dy, Int32(batch), Int32(out), Int32(ld), pdyt.baseAddress!)
            parameterGradients(
                pattern: pattern, gradientPattern: gradientPattern, dyt: pdyt.baseAddress!, batch: batch, gradW: gradW, gradB: gradB)
            guard let dx else { return }
            // x^T is no longer needed: its buffer takes dx^T
            if xt.count < inp * ld { xt = [Float](repeating: 0, count: inp * ld) }
            var xt = self.xt
            self.xt = []
            xt.withUnsafeMutableBufferPointer { pdxt in
                inputGradient(pattern: pattern, w: w, dyt: pdyt.baseAddress!, dxt: pdxt.baseAddress!)
                psk_untranspose(pdxt.baseAddress!, Int32(batch), Int32(inp), Int32(ld), dx)
            }
            self.xt = xt
        }
        self.yt = yt
    }

    /// `backward` from `dy` in either layout (`[batch, out]` rows, or `dy^T`): the parameter
    /// gradients, and when `dxShape` is given the input gradient, transposed (`[in, ld]`, for
    /// the layer before) when `transposedDx`, else row-major in `dxShape`.
    mutating func backward(
        pattern: SparsityPattern, gradientPattern: SparsityPattern, w: UnsafePointer<Float>, dy: LayerValues, batch: Int,
        gradW: UnsafeMutablePointer<Float>?, gradB: UnsafeMutablePointer<Float>, dxShape: [Int]?, transposedDx: Bool
    ) -> LayerValues? {
        precondition(ld == Self.leading(batch), "sparse backward without a matching forward")
        func rest(_ scratch: inout SparseScratch, _ dyt: UnsafePointer<Float>) -> LayerValues? {
            scratch.parameterGradients(
                pattern: pattern, gradientPattern: gradientPattern, dyt: dyt, batch: batch, gradW: gradW, gradB: gradB)
            guard let dxShape else { return nil }
            if transposedDx { return .transposed(scratch.inputGradientTransposed(pattern: pattern, w: w, dyt: dyt, batch: batch)) }
            return .rowMajor(scratch.inputGradient(pattern: pattern, w: w, dyt: dyt, batch: batch, shape: dxShape))
        }
        switch dy {
        case .transposed(let dyt):
            precondition(dyt.ld == ld && dyt.features == pattern.rows, "a transposed gradient of the wrong shape")
            return dyt.values.scalars.withUnsafeBufferPointer { rest(&self, $0.baseAddress!) }
        case .rowMajor(let dy):
            let out = pattern.rows
            if yt.count < out * ld { yt = [Float](repeating: 0, count: out * ld) }
            var yt = self.yt
            self.yt = []
            defer { self.yt = yt }
            return yt.withUnsafeMutableBufferPointer { pdyt in
                dy.scalars.withUnsafeBufferPointer {
                    psk_transpose_pad($0.baseAddress!, Int32(batch), Int32(out), Int32(ld), pdyt.baseAddress!)
                }
                return rest(&self, pdyt.baseAddress!)
            }
        }
    }

    /// `dx[batch, in]` (row-major, in `shape`) through `xt`, whose `x^T` is no longer needed.
    mutating func inputGradient(pattern: SparsityPattern, w: UnsafePointer<Float>, dyt: UnsafePointer<Float>, batch: Int, shape: [Int])
        -> Tensor
    {
        let inp = pattern.cols
        var dx = Tensor(uninitializedShape: shape)
        handedInput = nil
        if xt.count < inp * ld { xt = [Float](repeating: 0, count: inp * ld) }
        var xt = self.xt
        self.xt = []
        defer { self.xt = xt }
        xt.withUnsafeMutableBufferPointer { pdxt in
            inputGradient(pattern: pattern, w: w, dyt: dyt, dxt: pdxt.baseAddress!)
            dx.scalars.withUnsafeMutableBufferPointer {
                psk_untranspose(pdxt.baseAddress!, Int32(batch), Int32(inp), Int32(ld), $0.baseAddress!)
            }
        }
        return dx
    }

    /// Bias gradient (the row sums of `dy^T` over the batch) and weight gradient at
    /// `gradientPattern`'s entries (the trainable ones, when some live weights are frozen;
    /// `pattern`'s by default), from `dy^T` `[out, ld]` (padding +0) and the loaded `x^T`.
    func parameterGradients(
        pattern: SparsityPattern, gradientPattern: SparsityPattern? = nil, dyt: UnsafePointer<Float>, batch: Int,
        gradW: UnsafeMutablePointer<Float>?, gradB: UnsafeMutablePointer<Float>
    ) {
        let gp = gradientPattern ?? pattern
        let out = pattern.rows, inp = pattern.cols
        let ld32 = Int32(ld)
        psk_row_sums(Int32(out), Int32(batch), ld32, dyt, gradB)
        withInput { pxt in
            if out <= inp {
                // by columns of W: row j of x^T stays in registers while the rows of dy^T it
                // meets are read (out * ld floats, the smaller working set; measured faster
                // for 784x300 at 50-70% sparsity)
                gp.withCSC(positions: true) { ptr, at, row in
                    psk_sddmm_t(Int32(inp), ld32, ptr, at, row, pxt, dyt, gradW)
                }
            } else {
                // entry k of the row walk is CSR entry k: no index array (NULL)
                gp.withCSR { ptr, _, col in
                    psk_sddmm_t(Int32(out), ld32, ptr, nil, col, dyt, pxt, gradW)
                }
            }
        }
    }

    /// `dx^T[in, ld] = W^T dy^T` through every live weight of `pattern`.
    func inputGradient(pattern: SparsityPattern, w: UnsafePointer<Float>, dyt: UnsafePointer<Float>, dxt: UnsafeMutablePointer<Float>) {
        pattern.withCSC { ptr, flat, row in
            psk_spmm_t(Int32(pattern.cols), Int32(ld), ptr, flat, row, w, dyt, nil, dxt)
        }
    }

    /// `dx^T` kept transposed for the layer before (padding +0).
    func inputGradientTransposed(pattern: SparsityPattern, w: UnsafePointer<Float>, dyt: UnsafePointer<Float>, batch: Int)
        -> TransposedBatch
    {
        var dx = TransposedBatch(features: pattern.cols, batch: batch)
        dx.values.scalars.withUnsafeMutableBufferPointer { inputGradient(pattern: pattern, w: w, dyt: dyt, dxt: $0.baseAddress!) }
        dx.zeroPadding()
        return dx
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

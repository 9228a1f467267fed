import CSparseKernels
import TensorCore

/// 2-D convolution (cross-correlation) `y[b, o] = sum_c W[o, c] ⋆ x[b, c] + bias[o]`.
///
/// Input is `[B, C, H, W]` (channels first, row-major); `weight` is `[outC, inC, k, k]`
/// (PyTorch's layout), `bias` is `[outC]`. A square kernel slides with `stride` over the input
/// zero-padded by `padding` on every side, so `outH = (H + 2*padding - k) / stride + 1` (and
/// likewise `outW`). The batch is processed in chunks of samples whose im2col columns
/// (`[C*k*k, n*outH*outW]`, side by side) fit in a core's L2 cache: forward unfolds a chunk and
/// runs one `sgemm` for it; backward unfolds it again (recomputing is cheaper than streaming
/// megabytes of cached columns through memory), accumulates `dW` from `dy` and the columns,
/// `db` as sums of `dy`, and `dx` by `W^T dy` folded back by col2im. A masked layer whose
/// `kernelPolicy` chooses the sparse path runs `DirectSparseConv` instead (no columns).
/// Defaults: `stride` 1, `padding` 0.
public final class Conv2D: SparseCapableLayer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    public let bias: Parameter
    /// im2col columns of one chunk of samples, `[C*k*k, n*outH*outW]` (sample `j`'s positions
    /// at columns `j*P ..< (j+1)*P`); backward reuses the buffer for dcols.
    private var columns = Tensor(shape: [0])
    /// `W * cols` of a chunk in forward, its output gradient in backward, `[outC, n*outH*outW]`.
    private var product = Tensor(shape: [0])
    /// The last forward input (backward recomputes the columns from it).
    private var input = Tensor(shape: [0])
    /// Which convolution runs once the weight has a mask (see `KernelPolicy`): im2col + SGEMM,
    /// or the direct sparse convolution over the kept weights (`DirectSparseConv`, no columns).
    /// Without a mask the SGEMM path always runs, unchanged.
    public var kernelPolicy: KernelPolicy = .auto
    public var kernelChoices = KernelChoices()
    public private(set) var lastKernel: KernelKind = .dense
    private var forwardPattern: SparsityPattern?
    var wantsInputGradient = true
    /// The direct sparse convolution's plan and the latest training batch bucket (`measured`).
    var direct: DirectSparseConv?
    var lastTrainingBatch: Int?

    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        precondition(
            inChannels > 0 && outChannels > 0 && kernel > 0,
            "\(name): channels and kernel must be positive, got \(inChannels)->\(outChannels), kernel \(kernel)")
        precondition(
            stride > 0 && padding >= 0,
            "\(name): stride must be positive and padding non-negative, got stride \(stride), padding \(padding)")
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        weight = Parameter(name: "\(name).weight", value: Tensor(shape: [outChannels, inChannels, kernel, kernel]), isPrunable: true)
        bias = Parameter(name: "\(name).bias", value: Tensor(shape: [outChannels]), isPrunable: false)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func replica() -> Layer {
        let c = Conv2D(name: name, inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding)
        c.kernelPolicy = kernelPolicy
        c.kernelChoices = kernelChoices
        return c
    }

    /// Spatial output size for an input size along one axis.
    private func outSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(
            inputShape.count == 3 && inputShape[0] == inChannels,
            "\(name) expects [\(inChannels), H, W] per sample, got \(inputShape)")
        precondition(
            inputShape[1] + 2 * padding >= kernel && inputShape[2] + 2 * padding >= kernel,
            "\(name): kernel \(kernel) larger than padded input \(inputShape) with padding \(padding)")
        return [outChannels, outSize(inputShape[1]), outSize(inputShape[2])]
    }

    /// Samples per chunk: as many as keep the chunk's columns within `chunkFloats`.
    public static let chunkFloats = 1 << 17  // 512 KiB of columns: stays in a 1 MiB L2 with the GEMM's packing
    private func chunkSamples(kk: Int, p: Int) -> Int { max(1, Self.chunkFloats / max(1, kk * p)) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4, "\(name) expects [B, C, H, W] input, got \(x.shape)")
        let batch = x.shape[0]
        let o = outputShape(for: Array(x.shape.dropFirst()))
        let c = inChannels, h = x.shape[2], w = x.shape[3], k = kernel, s = stride, pad = padding
        let outC = outChannels, oh = o[1], ow = o[2]
        let kk = c * k * k, p = oh * ow, sample = c * h * w
        let chunk = chunkSamples(kk: kk, p: p)
        input = x
        if let pattern = directSparsePattern(batch: batch, height: h, width: w, training: training) {
            forwardPattern = pattern
            lastKernel = .sparse
            return directForward(x, pattern: pattern)
        }
        forwardPattern = nil
        lastKernel = .dense
        columns.resize(to: [kk, min(chunk, batch) * p])
        product.resize(to: [outC, min(chunk, batch) * p])
        var y = Tensor(uninitializedShape: [batch, outC, oh, ow])  // every entry written below
        x.scalars.withUnsafeBufferPointer { px in
            columns.scalars.withUnsafeMutableBufferPointer { pc in
                product.scalars.withUnsafeMutableBufferPointer { pp in
                    weight.value.scalars.withUnsafeBufferPointer { pw in
                        bias.value.scalars.withUnsafeBufferPointer { pb in
                            y.scalars.withUnsafeMutableBufferPointer { py in
                                for b0 in Swift.stride(from: 0, to: batch, by: chunk) {
                                    let n = min(chunk, batch - b0), np = n * p
                                    Self.im2col(
                                        px.baseAddress! + b0 * sample, batch: n, channels: c, height: h, width: w,
                                        kernel: k, stride: s, padding: pad, outH: oh, outW: ow, into: pc.baseAddress!)
                                    // Y [outC, n*P] = W [outC, K] * cols [K, n*P]
                                    BLAS.sgemm(
                                        transA: false, transB: false, m: outC, n: np, k: kk,
                                        a: pw.baseAddress!, b: pc.baseAddress!, c: pp.baseAddress!)
                                    // y[b0 + j, oc, :] = Y[oc, j*P ..< (j+1)*P] + bias[oc]
                                    for j in 0..<n {
                                        for oc in 0..<outC {
                                            let src = pp.baseAddress! + oc * np + j * p
                                            let dst = py.baseAddress! + ((b0 + j) * outC + oc) * p
                                            let beta = pb[oc]
                                            for t in 0..<p { dst[t] = src[t] + beta }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        precondition(input.rank == 4, "\(name): backward before forward")
        if let pattern = forwardPattern {
            wantsInputGradient = needInputGrad
            return directBackward(input, dy, pattern: pattern, needInputGrad: needInputGrad)
        }
        let batch = input.shape[0], c = inChannels, h = input.shape[2], w = input.shape[3]
        let k = kernel, s = stride, pad = padding, outC = outChannels
        let oh = outSize(h), ow = outSize(w)
        let kk = c * k * k, p = oh * ow, sample = c * h * w
        let chunk = chunkSamples(kk: kk, p: p)
        precondition(
            dy.shape == [batch, outC, oh, ow],
            "\(name): gradient \(dy.shape) does not match the forward output [\(batch), \(outC), \(oh), \(ow)]")
        columns.resize(to: [kk, min(chunk, batch) * p])
        product.resize(to: [outC, min(chunk, batch) * p])
        var dx = needInputGrad ? Tensor(shape: input.shape) : Tensor(shape: [0])
        bias.grad.fill(0)
        wantsInputGradient = needInputGrad
        weight.gradientPattern = nil
        // Per chunk: recompute the columns (cheaper than keeping megabytes of them from the
        // forward pass), dW += dY cols^T, db += row sums of dY, dx += col2im(W^T dY).
        input.scalars.withUnsafeBufferPointer { px in
            dy.scalars.withUnsafeBufferPointer { pdy in
                columns.scalars.withUnsafeMutableBufferPointer { pc in
                    product.scalars.withUnsafeMutableBufferPointer { pp in
                        weight.value.scalars.withUnsafeBufferPointer { pw in
                            weight.grad.scalars.withUnsafeMutableBufferPointer { pgw in
                                bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                                    dx.scalars.withUnsafeMutableBufferPointer { pdx in
                                        for b0 in Swift.stride(from: 0, to: batch, by: chunk) {
                                            let n = min(chunk, batch - b0), np = n * p
                                            Self.im2col(
                                                px.baseAddress! + b0 * sample, batch: n, channels: c, height: h, width: w,
                                                kernel: k, stride: s, padding: pad, outH: oh, outW: ow, into: pc.baseAddress!)
                                            // dY [outC, n*P], the chunk's output gradient in the product's layout
                                            for oc in 0..<outC {
                                                for j in 0..<n {
                                                    Kernels.copy(
                                                        pdy.baseAddress! + ((b0 + j) * outC + oc) * p,
                                                        to: pp.baseAddress! + oc * np + j * p, count: p)
                                                }
                                                pgb[oc] += Kernels.sum(pp.baseAddress! + oc * np, count: np)
                                            }
                                            // dW [outC, K] (+)= dY [outC, n*P] * cols^T [n*P, K]
                                            BLAS.sgemm(
                                                transA: false, transB: true, m: outC, n: kk, k: np,
                                                a: pp.baseAddress!, b: pc.baseAddress!,
                                                beta: b0 == 0 ? 0 : 1, c: pgw.baseAddress!)
                                            guard needInputGrad else { continue }
                                            // dcols [K, n*P] = W^T [K, outC] * dY [outC, n*P], into the columns' buffer
                                            BLAS.sgemm(
                                                transA: true, transB: false, m: kk, n: np, k: outC,
                                                a: pw.baseAddress!, b: pp.baseAddress!, c: pc.baseAddress!)
                                            Self.col2im(
                                                pc.baseAddress!, batch: n, channels: c, height: h, width: w, kernel: k,
                                                stride: s, padding: pad, outH: oh, outW: ow,
                                                addingInto: pdx.baseAddress! + b0 * sample)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return needInputGrad ? dx : nil
    }

    /// Unfolds a batch of `[C, H, W]` samples into columns `[C*k*k, B*P]` (`P = outH*outW`,
    /// sample `b` at columns `b*P ..< (b+1)*P`): row `(c*k + i)*k + j` holds
    /// `x[b, c, oh*stride - padding + i, ow*stride - padding + j]` (0 outside the input).
    ///
    /// The loops run row by row and, within a row, sample by sample, so the multi-megabyte
    /// column buffer is written as one stream while the reads hop between samples of the
    /// (cache-resident) input; sample-major order wrote C*k*k streams at once and stalled.
    static func im2col(
        _ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int,
        into cols: UnsafeMutablePointer<Float>
    ) {
        let p = outH * outW, sample = channels * height * width
        var dst = cols
        for c in 0..<channels {
            for i in 0..<kernel {
                for j in 0..<kernel {
                    // iw = ow*stride - padding + j is inside the input for ow in lo..<hi
                    let lo = min(outW, max(0, (padding - j + stride - 1) / stride))
                    let hi = max(lo, min(outW, (width + padding - j + stride - 1) / stride))
                    for b in 0..<batch {
                        let plane = x + b * sample + c * height * width
                        for oh in 0..<outH {
                            let ih = oh * stride - padding + i
                            let out = dst + oh * outW
                            guard ih >= 0 && ih < height else {
                                out.update(repeating: 0, count: outW)
                                continue
                            }
                            let src = plane + ih * width - padding + j
                            if lo > 0 { out.update(repeating: 0, count: lo) }
                            if stride == 1 {
                                Kernels.copy(src + lo, to: out + lo, count: hi - lo)
                            } else {
                                for ow in lo..<hi { out[ow] = src[ow * stride] }
                            }
                            if hi < outW { (out + hi).update(repeating: 0, count: outW - hi) }
                        }
                        dst += p
                    }
                }
            }
        }
    }

    /// Adjoint of `im2col`: adds each column entry back onto the input position it was read
    /// from, in the same row-then-sample order (reading the columns as one stream).
    static func col2im(
        _ cols: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int,
        addingInto dx: UnsafeMutablePointer<Float>
    ) {
        let p = outH * outW, sample = channels * height * width
        var src = cols
        for c in 0..<channels {
            for i in 0..<kernel {
                for j in 0..<kernel {
                    let lo = min(outW, max(0, (padding - j + stride - 1) / stride))
                    let hi = max(lo, min(outW, (width + padding - j + stride - 1) / stride))
                    for b in 0..<batch {
                        let plane = dx + b * sample + c * height * width
                        for oh in 0..<outH {
                            let ih = oh * stride - padding + i
                            guard ih >= 0 && ih < height else { continue }
                            let dst = plane + ih * width - padding + j
                            let row = src + oh * outW
                            if stride == 1 {
                                Kernels.add(row + lo, into: dst + lo, count: hi - lo)
                            } else {
                                for ow in lo..<hi { dst[ow * stride] += row[ow] }
                            }
                        }
                        src += p
                    }
                }
            }
        }
    }

    /// Each weight multiplies once per output position.
    public func weightReuse(inputShape: [Int]) -> Int {
        let o = outputShape(for: inputShape)
        return o[1] * o[2]
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        let o = outputShape(for: inputShape)
        let positions = o[1] * o[2]
        let w = activeOnly ? weight.activeCount : weight.value.count
        return 2 * w * positions + outChannels * positions
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        let o = outputShape(for: inputShape)
        let positions = o[1] * o[2]
        let w = activeOnly ? weight.activeCount : weight.value.count
        return 2 * w * positions + outChannels * positions + (needInputGrad ? 2 * w * positions : 0)
    }
}

import TensorCore

/// 2-D convolution (cross-correlation) `y[b, o] = sum_c W[o, c] ⋆ x[b, c] + bias[o]`.
///
/// Input is `[B, C, H, W]` (channels first, row-major); `weight` is `[outC, inC, k, k]`
/// (PyTorch's layout), `bias` is `[outC]`. A square kernel slides with `stride` over the input
/// zero-padded by `padding` on every side, so `outH = (H + 2*padding - k) / stride + 1` (and
/// likewise `outW`). Forward unfolds each sample by im2col into a `[C*k*k, outH*outW]` buffer
/// laid side by side for the whole batch (cached for backward) and runs one `sgemm` per batch; backward computes `dW` from `dy` and
/// the cached buffers, `db` as sums of `dy`, and `dx` by `W^T dy` folded back by col2im.
/// Defaults: `stride` 1, `padding` 0.
public final class Conv2D: Layer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    public let bias: Parameter
    /// im2col columns of the last forward batch, `[C*k*k, B*outH*outW]` (sample `b`'s
    /// positions at columns `b*P ..< (b+1)*P`); backward overwrites them with dcols.
    private var columns = Tensor(shape: [0])
    /// `W * cols` in forward and the output gradient in backward, `[outC, B*outH*outW]`.
    private var product = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        precondition(inChannels > 0 && outChannels > 0 && kernel > 0,
                     "\(name): channels and kernel must be positive, got \(inChannels)->\(outChannels), kernel \(kernel)")
        precondition(stride > 0 && padding >= 0, "\(name): stride must be positive and padding non-negative, got stride \(stride), padding \(padding)")
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
        Conv2D(name: name, inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding)
    }

    /// Spatial output size for an input size along one axis.
    private func outSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 3 && inputShape[0] == inChannels,
                     "\(name) expects [\(inChannels), H, W] per sample, got \(inputShape)")
        precondition(inputShape[1] + 2 * padding >= kernel && inputShape[2] + 2 * padding >= kernel,
                     "\(name): kernel \(kernel) larger than padded input \(inputShape) with padding \(padding)")
        return [outChannels, outSize(inputShape[1]), outSize(inputShape[2])]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4, "\(name) expects [B, C, H, W] input, got \(x.shape)")
        let batch = x.shape[0]
        let o = outputShape(for: Array(x.shape.dropFirst()))
        let c = inChannels, h = x.shape[2], w = x.shape[3], k = kernel, s = stride, pad = padding
        let outC = outChannels, oh = o[1], ow = o[2]
        let kk = c * k * k, p = oh * ow, bp = batch * p
        inputShape = x.shape
        columns.resize(to: [kk, bp])
        product.resize(to: [outC, bp])
        var y = Tensor(uninitializedShape: [batch, outC, oh, ow])  // every entry written below
        x.scalars.withUnsafeBufferPointer { px in
            columns.scalars.withUnsafeMutableBufferPointer { pc in
                Self.im2col(px.baseAddress!, batch: batch, channels: c, height: h, width: w, kernel: k,
                            stride: s, padding: pad, outH: oh, outW: ow, into: pc.baseAddress!)
            }
        }
        columns.scalars.withUnsafeBufferPointer { pc in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                product.scalars.withUnsafeMutableBufferPointer { pp in
                    // Y [outC, B*P] = W [outC, K] * cols [K, B*P]: one product for the whole batch
                    BLAS.sgemm(transA: false, transB: false, m: outC, n: bp, k: kk,
                               a: pw.baseAddress!, b: pc.baseAddress!, c: pp.baseAddress!)
                }
            }
        }
        // y[b, oc, :] = Y[oc, b*P ..< (b+1)*P] + bias[oc]
        bias.value.scalars.withUnsafeBufferPointer { pb in
            product.scalars.withUnsafeBufferPointer { pp in
                y.scalars.withUnsafeMutableBufferPointer { py in
                    for b in 0..<batch {
                        for oc in 0..<outC {
                            let src = pp.baseAddress! + oc * bp + b * p
                            let dst = py.baseAddress! + (b * outC + oc) * p
                            let beta = pb[oc]
                            for j in 0..<p { dst[j] = src[j] + beta }
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        precondition(inputShape.count == 4, "\(name): backward before forward")
        let batch = inputShape[0], c = inChannels, h = inputShape[2], w = inputShape[3]
        let k = kernel, s = stride, pad = padding, outC = outChannels
        let oh = outSize(h), ow = outSize(w)
        let kk = c * k * k, p = oh * ow, bp = batch * p
        precondition(dy.shape == [batch, outC, oh, ow], "\(name): gradient \(dy.shape) does not match the forward output [\(batch), \(outC), \(oh), \(ow)]")
        // dY [outC, B*P], the output gradient in the product's layout; db = its row sums
        product.resize(to: [outC, bp])
        dy.scalars.withUnsafeBufferPointer { pdy in
            product.scalars.withUnsafeMutableBufferPointer { pp in
                bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                    for oc in 0..<outC {
                        for b in 0..<batch {
                            Kernels.copy(pdy.baseAddress! + (b * outC + oc) * p, to: pp.baseAddress! + oc * bp + b * p, count: p)
                        }
                        pgb[oc] = Kernels.sum(pp.baseAddress! + oc * bp, count: bp)
                    }
                }
            }
        }
        product.scalars.withUnsafeBufferPointer { pp in
            columns.scalars.withUnsafeBufferPointer { pc in
                weight.grad.scalars.withUnsafeMutableBufferPointer { pgw in
                    // dW [outC, K] = dY [outC, B*P] * cols^T [B*P, K]
                    BLAS.sgemm(transA: false, transB: true, m: outC, n: kk, k: bp,
                               a: pp.baseAddress!, b: pc.baseAddress!, c: pgw.baseAddress!)
                }
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor(shape: inputShape)
        // The forward columns are no longer needed: reuse their buffer for dcols.
        product.scalars.withUnsafeBufferPointer { pp in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                columns.scalars.withUnsafeMutableBufferPointer { pdc in
                    // dcols [K, B*P] = W^T [K, outC] * dY [outC, B*P]
                    BLAS.sgemm(transA: true, transB: false, m: kk, n: bp, k: outC,
                               a: pw.baseAddress!, b: pp.baseAddress!, c: pdc.baseAddress!)
                }
            }
        }
        columns.scalars.withUnsafeBufferPointer { pdc in
            dx.scalars.withUnsafeMutableBufferPointer { pdx in
                Self.col2im(pdc.baseAddress!, batch: batch, channels: c, height: h, width: w, kernel: k,
                            stride: s, padding: pad, outH: oh, outW: ow, addingInto: pdx.baseAddress!)
            }
        }
        return dx
    }

    /// Unfolds a batch of `[C, H, W]` samples into columns `[C*k*k, B*P]` (`P = outH*outW`,
    /// sample `b` at columns `b*P ..< (b+1)*P`): row `(c*k + i)*k + j` holds
    /// `x[b, c, oh*stride - padding + i, ow*stride - padding + j]` (0 outside the input).
    ///
    /// The loops run row by row and, within a row, sample by sample, so the multi-megabyte
    /// column buffer is written as one stream while the reads hop between samples of the
    /// (cache-resident) input; sample-major order wrote C*k*k streams at once and stalled.
    static func im2col(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                       kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int,
                       into cols: UnsafeMutablePointer<Float>) {
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
    static func col2im(_ cols: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                       kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int,
                       addingInto dx: UnsafeMutablePointer<Float>) {
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

import TensorCore

/// 2-D convolution (cross-correlation) `y[b, o] = sum_c W[o, c] ⋆ x[b, c] + bias[o]`.
///
/// Input is `[B, C, H, W]` (channels first, row-major); `weight` is `[outC, inC, k, k]`
/// (PyTorch's layout), `bias` is `[outC]`. A square kernel slides with `stride` over the input
/// zero-padded by `padding` on every side, so `outH = (H + 2*padding - k) / stride + 1` (and
/// likewise `outW`). Forward unfolds each sample by im2col into a `[C*k*k, outH*outW]` buffer
/// (cached for backward) and runs one `sgemm` per sample; backward computes `dW` from `dy` and
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
    /// im2col buffers of the last forward batch, `[B, C*k*k, outH*outW]`.
    private var columns = Tensor(shape: [0])
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
        let kk = c * k * k, p = oh * ow
        inputShape = x.shape
        columns.resize(to: [batch, kk, p])
        var y = Tensor(shape: [batch, outC, oh, ow])
        x.scalars.withUnsafeBufferPointer { px in
            columns.scalars.withUnsafeMutableBufferPointer { pc in
                let cb = pc.baseAddress!
                for b in 0..<batch {
                    Self.im2col(px.baseAddress! + b * c * h * w, channels: c, height: h, width: w, kernel: k,
                                stride: s, padding: pad, outH: oh, outW: ow, into: cb + b * kk * p)
                }
            }
        }
        bias.value.scalars.withUnsafeBufferPointer { pb in
            y.scalars.withUnsafeMutableBufferPointer { py in
                let yb = py.baseAddress!
                for b in 0..<batch {
                    for oc in 0..<outC {
                        (yb + (b * outC + oc) * p).update(repeating: pb[oc], count: p)
                    }
                }
                columns.scalars.withUnsafeBufferPointer { pc in
                    weight.value.scalars.withUnsafeBufferPointer { pw in
                        for b in 0..<batch {
                            // y_b [outC, P] += W [outC, K] * cols_b [K, P]
                            BLAS.sgemm(transA: false, transB: false, m: outC, n: p, k: kk,
                                       a: pw.baseAddress!, b: pc.baseAddress! + b * kk * p,
                                       beta: 1, c: yb + b * outC * p)
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
        let kk = c * k * k, p = oh * ow
        precondition(dy.shape == [batch, outC, oh, ow], "\(name): gradient \(dy.shape) does not match the forward output [\(batch), \(outC), \(oh), \(ow)]")
        dy.scalars.withUnsafeBufferPointer { pdy in
            let dyb = pdy.baseAddress!
            columns.scalars.withUnsafeBufferPointer { pc in
                weight.grad.scalars.withUnsafeMutableBufferPointer { pgw in
                    for b in 0..<batch {
                        // dW [outC, K] (+)= dy_b [outC, P] * cols_b^T [P, K]
                        BLAS.sgemm(transA: false, transB: true, m: outC, n: kk, k: p,
                                   a: dyb + b * outC * p, b: pc.baseAddress! + b * kk * p,
                                   beta: b == 0 ? 0 : 1, c: pgw.baseAddress!)
                    }
                }
            }
            bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                for oc in 0..<outC {
                    var sum: Float = 0
                    for b in 0..<batch {
                        let row = dyb + (b * outC + oc) * p
                        for j in 0..<p { sum += row[j] }
                    }
                    pgb[oc] = sum
                }
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor(shape: inputShape)
        var dcols = [Float](repeating: 0, count: kk * p)
        dy.scalars.withUnsafeBufferPointer { pdy in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                dx.scalars.withUnsafeMutableBufferPointer { pdx in
                    dcols.withUnsafeMutableBufferPointer { pdc in
                        for b in 0..<batch {
                            // dcols [K, P] = W^T [K, outC] * dy_b [outC, P]
                            BLAS.sgemm(transA: true, transB: false, m: kk, n: p, k: outC,
                                       a: pw.baseAddress!, b: pdy.baseAddress! + b * outC * p,
                                       c: pdc.baseAddress!)
                            Self.col2im(UnsafePointer(pdc.baseAddress!), channels: c, height: h, width: w, kernel: k,
                                        stride: s, padding: pad, outH: oh, outW: ow,
                                        addingInto: pdx.baseAddress! + b * c * h * w)
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Unfolds one `[C, H, W]` sample into `[C*k*k, outH*outW]`; row `(c*k + i)*k + j` holds
    /// `x[c, oh*stride - padding + i, ow*stride - padding + j]` (0 outside the input).
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kernel: Int,
                       stride: Int, padding: Int, outH: Int, outW: Int, into cols: UnsafeMutablePointer<Float>) {
        var row = cols
        for c in 0..<channels {
            let plane = x + c * height * width
            for i in 0..<kernel {
                for j in 0..<kernel {
                    for oh in 0..<outH {
                        let ih = oh * stride - padding + i
                        let dst = row + oh * outW
                        if ih < 0 || ih >= height {
                            dst.update(repeating: 0, count: outW)
                            continue
                        }
                        let src = plane + ih * width
                        for ow in 0..<outW {
                            let iw = ow * stride - padding + j
                            dst[ow] = (iw >= 0 && iw < width) ? src[iw] : 0
                        }
                    }
                    row += outH * outW
                }
            }
        }
    }

    /// Adjoint of `im2col`: adds each column entry back onto the input position it was read from.
    static func col2im(_ cols: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kernel: Int,
                       stride: Int, padding: Int, outH: Int, outW: Int, addingInto dx: UnsafeMutablePointer<Float>) {
        var row = cols
        for c in 0..<channels {
            let plane = dx + c * height * width
            for i in 0..<kernel {
                for j in 0..<kernel {
                    for oh in 0..<outH {
                        let ih = oh * stride - padding + i
                        guard ih >= 0 && ih < height else { continue }
                        let src = row + oh * outW
                        let dst = plane + ih * width
                        for ow in 0..<outW {
                            let iw = ow * stride - padding + j
                            if iw >= 0 && iw < width { dst[iw] += src[ow] }
                        }
                    }
                    row += outH * outW
                }
            }
        }
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

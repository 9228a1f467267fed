import TensorCore

/// 2-D max pooling over `kernel x kernel` windows moved by `stride` (default `kernel`), no padding.
///
/// Input is `[B, C, H, W]`, output `[B, C, outH, outW]` with `outH = (H - kernel) / stride + 1`
/// (likewise `outW`); trailing rows/columns that do not fill a window are dropped. Forward
/// keeps the flat input index of each window's maximum (the first one on ties, in row-major
/// window order); backward routes each output gradient to that index. No parameters.
public final class MaxPool2D: Layer {
    public let name: String
    public let kernel: Int
    public let stride: Int
    /// Flat input index of each output's maximum in the last forward batch.
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    public init(name: String, kernel: Int, stride: Int? = nil) {
        let s = stride ?? kernel
        precondition(kernel > 0 && s > 0, "\(name): kernel and stride must be positive, got kernel \(kernel), stride \(s)")
        self.name = name
        self.kernel = kernel
        self.stride = s
    }

    public func replica() -> Layer { MaxPool2D(name: name, kernel: kernel, stride: stride) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(
            inputShape.count == 3 && inputShape[1] >= kernel && inputShape[2] >= kernel,
            "\(name) expects [C, H, W] with H, W >= \(kernel), got \(inputShape)")
        return [inputShape[0], (inputShape[1] - kernel) / stride + 1, (inputShape[2] - kernel) / stride + 1]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4, "\(name) expects [B, C, H, W] input, got \(x.shape)")
        let o = outputShape(for: Array(x.shape.dropFirst()))
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = o[1], ow = o[2], k = kernel, s = stride
        inputShape = x.shape
        var y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], oh, ow])  // every entry written below
        if argmax.count != y.count { argmax = [Int32](repeating: 0, count: y.count) }
        x.scalars.withUnsafeBufferPointer { px in
            y.scalars.withUnsafeMutableBufferPointer { py in
                argmax.withUnsafeMutableBufferPointer { pa in
                    if k == 2 && s == 2 {
                        Self.forward2x2(
                            px.baseAddress!, planes: planes, height: h, width: w, outH: oh, outW: ow,
                            into: py.baseAddress!, argmax: pa.baseAddress!)
                        return
                    }
                    var out = 0
                    for plane in 0..<planes {
                        let base = plane * h * w
                        for r in 0..<oh {
                            for c in 0..<ow {
                                var best = base + r * s * w + c * s
                                var bestValue = px[best]
                                for i in 0..<k {
                                    let rowStart = base + (r * s + i) * w + c * s
                                    for j in 0..<k where px[rowStart + j] > bestValue {
                                        best = rowStart + j
                                        bestValue = px[best]
                                    }
                                }
                                py[out] = bestValue
                                pa[out] = Int32(best)
                                out += 1
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// The common 2x2, stride-2 window without the generic loops (same tie rule: the first
    /// maximum in row-major window order wins).
    static func forward2x2(
        _ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int, outH: Int, outW: Int,
        into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
    ) {
        var out = 0
        for plane in 0..<planes {
            let base = plane &* h &* w
            for r in 0..<outH {
                let top = base &+ 2 &* r &* w
                for c in 0..<outW {
                    let i0 = top &+ 2 &* c
                    var best = i0
                    var v = x[i0]
                    if x[i0 &+ 1] > v { best = i0 &+ 1; v = x[best] }
                    if x[i0 &+ w] > v { best = i0 &+ w; v = x[best] }
                    if x[i0 &+ w &+ 1] > v { best = i0 &+ w &+ 1; v = x[best] }
                    y[out] = v
                    argmax[out] = Int32(truncatingIfNeeded: best)
                    out &+= 1
                }
            }
        }
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        guard needInputGrad else { return nil }
        precondition(
            inputShape.count == 4 && dy.count == argmax.count,
            "\(name): gradient \(dy.shape) does not match the forward output of input \(inputShape)")
        var dx = Tensor(shape: inputShape)
        dy.scalars.withUnsafeBufferPointer { pdy in
            argmax.withUnsafeBufferPointer { pa in
                dx.scalars.withUnsafeMutableBufferPointer { pdx in
                    for i in 0..<pdy.count { pdx[Int(pa[i])] += pdy[i] }
                }
            }
        }
        return dx
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        outputShape(for: inputShape).reduce(1, *) * (kernel * kernel - 1)
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        needInputGrad ? outputShape(for: inputShape).reduce(1, *) : 0
    }
}

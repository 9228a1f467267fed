import TensorCore

/// Global average pooling: `[B, C, H, W]` to `[B, C]`, each channel's mean over its H*W
/// positions (Lin et al. 2014); backward spreads `dy / (H*W)` over the plane. No parameters.
public final class GlobalAvgPool: Layer {
    public let name: String
    private var inputShape: [Int] = []

    public init(name: String) { self.name = name }

    public func replica() -> Layer { GlobalAvgPool(name: name) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 3, "\(name) expects [C, H, W] per sample, got \(inputShape)")
        return [inputShape[0]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4, "\(name) expects [B, C, H, W] input, got \(x.shape)")
        inputShape = x.shape
        let planes = x.shape[0] * x.shape[1], p = x.shape[2] * x.shape[3]
        var y = Tensor(shape: [x.shape[0], x.shape[1]])
        x.scalars.withUnsafeBufferPointer { px in
            y.scalars.withUnsafeMutableBufferPointer { py in
                for i in 0..<planes { py[i] = Kernels.sum(px.baseAddress! + i * p, count: p) / Float(p) }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        guard needInputGrad else { return nil }
        precondition(
            inputShape.count == 4 && dy.count == inputShape[0] * inputShape[1], "\(name): gradient \(dy.shape) does not match \(inputShape)"
        )
        let p = inputShape[2] * inputShape[3]
        var dx = Tensor(uninitializedShape: inputShape)
        dy.scalars.withUnsafeBufferPointer { g in
            dx.scalars.withUnsafeMutableBufferPointer { d in
                for i in 0..<g.count {
                    let v = g[i] / Float(p)
                    for t in (i * p)..<((i + 1) * p) { d[t] = v }
                }
            }
        }
        return dx
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int { inputShape.reduce(1, *) }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        needInputGrad ? inputShape.reduce(1, *) : 0
    }
}

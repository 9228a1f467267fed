import TensorCore

/// Reshapes `[B, d1, d2, ...]` to `[B, d1*d2*...]` in row-major order (for `[B, C, H, W]`: channel
/// by channel, each plane row by row, as PyTorch's `flatten(1)`); backward restores the shape.
public final class Flatten: Layer {
    public let name: String
    private var inputShape: [Int] = []

    public init(name: String) { self.name = name }

    public func replica() -> Layer { Flatten(name: name) }

    public func outputShape(for inputShape: [Int]) -> [Int] { [inputShape.reduce(1, *)] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inputShape = x.shape
        return x.reshaped([x.rows, x.rowSize])
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        guard needInputGrad else { return nil }
        precondition(dy.count == inputShape.reduce(1, *), "\(name): gradient \(dy.shape) does not match the forward input \(inputShape)")
        return dy.reshaped(inputShape)
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int { 0 }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int { 0 }
}

import TensorCore

#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

/// Element-wise activation functions with their derivatives written from the output.
public enum ActivationKind: String, Codable, CaseIterable, Sendable {
    case relu, sigmoid, tanh
}

/// An element-wise activation layer; keeps its output for the backward pass.
///
/// ReLU: `y = max(x, 0)`, `dy/dx = 1[x > 0]` (0 at the kink). Sigmoid: `y = 1/(1+e^-x)`,
/// `dy/dx = y(1-y)`. Tanh: `dy/dx = 1 - y^2`.
public final class Activation: Layer {
    public let name: String
    public let kind: ActivationKind
    private var output = Tensor(shape: [0])

    public init(name: String, kind: ActivationKind) {
        self.name = name
        self.kind = kind
    }

    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func replica() -> Layer { Activation(name: name, kind: kind) }

    /// Out of place: `x` is still referenced by the caller, so writing into `var y = x` would
    /// first copy it (a second pass over every activation).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = Tensor(uninitializedShape: x.shape)
        x.scalars.withUnsafeBufferPointer { src in
            y.scalars.withUnsafeMutableBufferPointer { dst in
                switch kind {
                case .relu:
                    Kernels.reluForward(src, into: dst)
                case .sigmoid:
                    for i in 0..<src.count { dst[i] = Activation.sigmoid(src[i]) }
                case .tanh:
                    for i in 0..<src.count { dst[i] = tanhf(src[i]) }
                }
            }
        }
        output = y
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        guard needInputGrad else { return nil }
        precondition(dy.count == output.count, "\(name): gradient \(dy.shape) does not match output \(output.shape)")
        var dx = Tensor(uninitializedShape: dy.shape)
        dy.scalars.withUnsafeBufferPointer { g in
            output.scalars.withUnsafeBufferPointer { y in
                dx.scalars.withUnsafeMutableBufferPointer { d in
                    switch kind {
                    case .relu:
                        Kernels.reluBackward(g, output: y, into: d)
                    case .sigmoid:
                        for i in 0..<g.count { d[i] = g[i] * (y[i] * (1 - y[i])) }
                    case .tanh:
                        for i in 0..<g.count { d[i] = g[i] * (1 - y[i] * y[i]) }
                    }
                }
            }
        }
        return dx
    }

    /// Numerically stable logistic function.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        inputShape.reduce(1, *) * (kind == .relu ? 1 : 4)
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        needInputGrad ? inputShape.reduce(1, *) * (kind == .relu ? 1 : 3) : 0
    }
}

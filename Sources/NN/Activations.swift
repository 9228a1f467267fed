import TensorCore

#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

/// Element-wise activation functions with their derivatives written from the output.
///
/// The one list of activations: configs name them by `rawValue`, the config docs print
/// `help`, and compaction asks `mapsZeroToZero`. A new activation is one case here plus what
/// the compiler then asks for (its forward and backward pass, its properties below).
public enum ActivationKind: String, Codable, CaseIterable, Sendable {
    case relu, sigmoid, tanh

    /// Whether `f(0) == 0` exactly, so a unit whose output is 0 stays 0 through it (what lets
    /// `Compaction` remove the unit).
    public var mapsZeroToZero: Bool {
        switch self {
        case .relu, .tanh: return true
        case .sigmoid: return false
        }
    }

    /// One line for the config docs: the formula.
    public var help: String {
        switch self {
        case .relu: return "max(x, 0)"
        case .sigmoid: return "1/(1+e^-x)"
        case .tanh: return "tanh(x)"
        }
    }

    /// FLOPs per element of the forward and of the backward pass (counted, not timed).
    public var flopsPerElement: (forward: Int, backward: Int) {
        switch self {
        case .relu: return (1, 1)
        case .sigmoid, .tanh: return (4, 3)
        }
    }
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

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        output = apply(x)
        return output
    }

    /// `forward` on a batch held transposed (between two sparse dense layers): element-wise, so
    /// every sample's values are the same as in rows; the padding columns are set back to +0
    /// (`f(0)` need not be 0), as `TransposedBatch` requires.
    func forward(transposed x: TransposedBatch, training: Bool) -> TransposedBatch {
        var y = TransposedBatch(values: apply(x.values), batch: x.batch)
        y.zeroPadding()
        output = y.values
        return y
    }

    /// `backward` of a transposed forward: element-wise in the transposed layout, padding +0.
    func backward(transposed dy: TransposedBatch, needInputGrad: Bool) -> TransposedBatch? {
        guard let dx = backward(dy.values, needInputGrad: needInputGrad) else { return nil }
        var g = TransposedBatch(values: dx, batch: dy.batch)
        g.zeroPadding()
        return g
    }

    /// `f` of every element, in a new tensor of the same shape. Out of place: `x` is still
    /// referenced by the caller, so writing into `var y = x` would first copy it (a second pass
    /// over every activation).
    private func apply(_ x: Tensor) -> Tensor {
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
        inputShape.reduce(1, *) * kind.flopsPerElement.forward
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        needInputGrad ? inputShape.reduce(1, *) * kind.flopsPerElement.backward : 0
    }
}

import TensorCore

/// A composite layer: a body of layers applied to the input, merged with the input itself.
///
/// - `add` (a residual block, He et al. 2016): `y = x + body(x)`; the body must keep the shape.
/// - `concat` (a DenseNet layer, Huang et al. 2017): `y = [x, body(x)]` along the channel axis
///   of `[C, H, W]` samples (or the feature axis of `[F]`); the body must keep H and W.
///
/// Backward sends `dy` (its body part, for `concat`) through the body, whose first layer is
/// asked for its input gradient, and adds the result to the skip path's gradient. The body's
/// parameters are the block's (`parameters`), named as their layers are (`conv3.weight`).
public final class Block: Layer {
    public enum Merge: String, Sendable, CaseIterable { case add, concat }
    public let name: String
    public let merge: Merge
    public let body: [Layer]
    private var inputShape: [Int] = []
    private var bodyShape: [Int] = []

    public init(name: String, merge: Merge, body: [Layer]) {
        precondition(!body.isEmpty, "\(name): a block needs at least one layer")
        self.name = name
        self.merge = merge
        self.body = body
    }

    public var parameters: [Parameter] { body.flatMap(\.parameters) }
    public var sublayers: [Layer] { body }

    public func replica() -> Layer { Block(name: name, merge: merge, body: body.map { $0.replica() }) }

    /// Per-sample input shape of each body layer.
    public func bodyInputShapes(for inputShape: [Int]) -> [[Int]] {
        var s = inputShape
        return body.map { l in
            defer { s = l.outputShape(for: s) }
            return s
        }
    }

    public func bodyOutputShape(for inputShape: [Int]) -> [Int] {
        body.reduce(inputShape) { $1.outputShape(for: $0) }
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        let h = bodyOutputShape(for: inputShape)
        switch merge {
        case .add:
            precondition(h == inputShape, "\(name): an add block's body must keep its shape \(inputShape), got \(h)")
            return h
        case .concat:
            precondition(
                h.count == inputShape.count && Array(h.dropFirst()) == Array(inputShape.dropFirst()),
                "\(name): a concat block's body must keep the size \(inputShape.dropFirst()), got \(h)")
            return [inputShape[0] + h[0]] + h.dropFirst()
        }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inputShape = x.shape
        let h = body.reduce(x) { $1.forward($0, training: training) }
        bodyShape = h.shape
        switch merge {
        case .add:
            precondition(h.shape == x.shape, "\(name): body output \(h.shape) does not match input \(x.shape)")
            var y = x
            y.scalars.withUnsafeMutableBufferPointer { py in
                h.scalars.withUnsafeBufferPointer { ph in Kernels.add(ph.baseAddress!, into: py.baseAddress!, count: ph.count) }
            }
            return y
        case .concat:
            let batch = x.shape[0]
            return Self.interleave(x, h, batch: batch, shape: [batch] + outputShape(for: Array(x.shape.dropFirst())))
        }
    }

    /// Per sample, `a`'s entries followed by `b`'s.
    static func interleave(_ a: Tensor, _ b: Tensor, batch: Int, shape: [Int]) -> Tensor {
        let sa = a.count / batch, sb = b.count / batch
        var y = Tensor(uninitializedShape: shape)
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                y.scalars.withUnsafeMutableBufferPointer { py in
                    for s in 0..<batch {
                        Kernels.copy(pa.baseAddress! + s * sa, to: py.baseAddress! + s * (sa + sb), count: sa)
                        Kernels.copy(pb.baseAddress! + s * sb, to: py.baseAddress! + s * (sa + sb) + sa, count: sb)
                    }
                }
            }
        }
        return y
    }

    /// Splits each sample of `y` into its first `first` entries and the rest.
    static func split(_ y: Tensor, batch: Int, first: [Int], rest: [Int]) -> (Tensor, Tensor) {
        let sa = first.reduce(1, *), sb = rest.reduce(1, *)
        var a = Tensor(uninitializedShape: [batch] + first), b = Tensor(uninitializedShape: [batch] + rest)
        y.scalars.withUnsafeBufferPointer { py in
            a.scalars.withUnsafeMutableBufferPointer { pa in
                b.scalars.withUnsafeMutableBufferPointer { pb in
                    for s in 0..<batch {
                        Kernels.copy(py.baseAddress! + s * (sa + sb), to: pa.baseAddress! + s * sa, count: sa)
                        Kernels.copy(py.baseAddress! + s * (sa + sb) + sa, to: pb.baseAddress! + s * sb, count: sb)
                    }
                }
            }
        }
        return (a, b)
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        precondition(!inputShape.isEmpty, "\(name): backward before forward")
        let batch = inputShape[0]
        var skip: Tensor, g: Tensor
        switch merge {
        case .add: (skip, g) = (dy, dy)
        case .concat: (skip, g) = Self.split(dy, batch: batch, first: Array(inputShape.dropFirst()), rest: Array(bodyShape.dropFirst()))
        }
        for (i, layer) in body.enumerated().reversed() {
            guard let next = layer.backward(g, needInputGrad: i > 0 || needInputGrad) else { return nil }
            g = next
        }
        guard needInputGrad else { return nil }
        skip.scalars.withUnsafeMutableBufferPointer { ps in
            g.scalars.withUnsafeBufferPointer { pg in Kernels.add(pg.baseAddress!, into: ps.baseAddress!, count: pg.count) }
        }
        return skip.reshaped(inputShape)
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        let inner = zip(body, bodyInputShapes(for: inputShape)).reduce(0) {
            $0 + $1.0.forwardFLOPs(inputShape: $1.1, activeOnly: activeOnly)
        }
        return inner + (merge == .add ? inputShape.reduce(1, *) : 0)
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        let inner = zip(body, bodyInputShapes(for: inputShape)).enumerated().reduce(0) { acc, e in
            acc + e.element.0.backwardFLOPs(inputShape: e.element.1, needInputGrad: e.offset > 0 || needInputGrad, activeOnly: activeOnly)
        }
        return inner + (needInputGrad ? inputShape.reduce(1, *) : 0)
    }
}

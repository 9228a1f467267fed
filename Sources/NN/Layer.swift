import TensorCore

/// One stage of a feed-forward network with a hand-written backward pass.
///
/// Tensors carry the batch as their leading dimension. `forward` caches what `backward` needs;
/// `backward` takes dL/d(output) and accumulates parameter gradients into `Parameter.grad`
/// (overwriting them: one backward per step) and returns dL/d(input) when asked for it.
public protocol Layer: AnyObject {
    var name: String { get }
    var parameters: [Parameter] { get }
    /// Per-sample output shape for a per-sample input shape.
    func outputShape(for inputShape: [Int]) -> [Int]
    func forward(_ x: Tensor, training: Bool) -> Tensor
    func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor?
    /// Floating-point operations per sample of one forward pass, counting only unmasked
    /// weights when `activeOnly` (a multiply-add is 2).
    func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int
    /// How many multiply-adds each weight takes part in per sample of one forward pass
    /// (1 for a dense layer, the number of output positions for a convolution).
    func weightReuse(inputShape: [Int]) -> Int
    /// Per-sample operations of one backward pass on unmasked weights.
    func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int
    /// A layer of the same shape with its own caches and gradients, for a data-parallel worker.
    /// Its parameters' values are shared with this layer's through `Sequential.shareWeights`.
    func replica() -> Layer
    /// The layers inside a composite (`Block`), in order; empty for a plain layer.
    var sublayers: [Layer] { get }
    /// Copies the non-trained state a replica needs from the master layer of the same shape
    /// (batch norm's running statistics, dropout's stream position); a no-op for most layers.
    func shareState(from master: Layer)
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public func weightReuse(inputShape: [Int]) -> Int { 1 }
    public var sublayers: [Layer] { [] }
    public func shareState(from master: Layer) {}

    /// This layer, or for a composite every layer inside it (depth first).
    public var flattened: [Layer] { sublayers.isEmpty ? [self] : sublayers.flatMap(\.flattened) }

    /// `flattened`, each layer with its per-sample input shape, given this layer's input shape.
    public func leaves(inputShape: [Int]) -> [(layer: Layer, inputShape: [Int])] {
        guard let block = self as? Block else { return [(self, inputShape)] }
        return zip(block.body, block.bodyInputShapes(for: inputShape)).flatMap { $0.leaves(inputShape: $1) }
    }
}

import TensorCore
import NN

/// Rebuilds a structurally pruned model as a physically smaller one.
///
/// A unit (conv filter or dense neuron) is removable when its weights and its bias are all
/// exactly 0 and every activation between it and the next layer with weights maps 0 to 0
/// (`ActivationKind.mapsZeroToZero`: ReLU and tanh, not sigmoid). Its output is then exactly 0 whatever the input, so
/// dropping it, together with the matching inputs of the next layer (the input channel of a
/// convolution, or the channel's H*W columns of a dense layer after flattening), leaves the
/// network's outputs unchanged: the compacted model computes the same function with fewer
/// weights. Masks of the kept entries carry over, so unstructured sparsity inside the kept
/// units survives. The last weighted layer keeps all its outputs (they are the classes).
///
/// Batch norm: one right after a conv or dense layer is folded into it first
/// (`Sequential.foldingBatchNorms`), so the compacted model has no such layer; any other batch
/// norm keeps the channels that survive. A unit followed by a batch norm is removable only
/// when that batch norm's `gamma` and `beta` for it are 0 too (structured pruning masks them
/// with the unit), since the normalization of a 0 channel is `beta - gamma * mean / sigma`.
/// Residual and concat blocks are not compacted (an error).
public enum Compaction {
    public struct Result {
        public let model: Sequential
        /// Kept output units of each weighted layer, by layer name (indices into the original).
        public let keptUnits: [String: [Int]]
        /// Units per weighted layer before and after, in layer order.
        public let units: [(layer: String, before: Int, after: Int)]
    }

    /// Throws `PruningError` for a weighted layer that is not `Compactable`.
    public static func compact(_ unfolded: Sequential) throws -> Result {
        let model = unfolded.foldingBatchNorms()
        let layers = model.layers
        let lastWeighted = layers.indices.last { layers[$0].prunableWeight != nil }
        var kept: [String: [Int]] = [:]
        var units: [(layer: String, before: Int, after: Int)] = []
        var newLayers: [Layer] = []
        // Kept indices along the channel (rank-3 activations) or feature (rank-1) axis of the
        // tensor flowing into layer i; nil means all of them.
        var keptIn: [Int]? = nil
        for (i, layer) in layers.enumerated() {
            let inShape = model.layerInputShapes[i]
            if let c = layer as? any Compactable {
                var inKeep = keptIn ?? Array(0..<c.inputUnits(inputShape: inShape))
                if c is Dense, inShape.count == 3, let channels = keptIn {
                    // Dense flattens [C, H, W] itself: channel c owns columns c*H*W ..< (c+1)*H*W.
                    inKeep = expand(channels, by: inShape[1] * inShape[2])
                }
                let followers = StructuredPruning.followingBatchNorm(of: layer, in: layers).map { [$0.gamma, $0.beta] } ?? []
                let outKeep =
                    i == lastWeighted || !zeroMapsToZero(after: i, in: layers)
                    ? Array(0..<c.outputUnits) : liveUnits(weight: c.weight, bias: c.bias, followers: followers)
                newLayers.append(c.compacted(outputs: outKeep, inputs: inKeep))
                kept[c.name] = outKeep
                units.append((c.name, c.outputUnits, outKeep.count))
                keptIn = outKeep
            } else if let bn = layer as? BatchNorm {
                newLayers.append(bn.compacted(channels: keptIn ?? Array(0..<bn.channels)))
            } else if layer is Block {
                throw PruningError(
                    "compaction does not reach into the block \(layer.name); prune and compact models without residual or concat blocks")
            } else if layer.prunableWeight != nil {
                throw PruningError("compaction does not know the weighted layer \(layer.name) (\(type(of: layer))); make it Compactable")
            } else if let flatten = layer as? Flatten {
                if let channels = keptIn, inShape.count == 3 { keptIn = expand(channels, by: inShape[1] * inShape[2]) }
                newLayers.append(Flatten(name: flatten.name))
            } else {
                // Pooling, activations and dropout act per channel / per feature: the kept set
                // passes through (global average pooling turns channels into features 1:1).
                newLayers.append(layer.replica())
            }
        }
        let compacted = Sequential(layers: newLayers, inputShape: model.inputShape, loss: model.loss)
        return Result(model: compacted, keptUnits: kept, units: units)
    }

    /// Channel indices to the flattened feature indices they own (`hw` features each).
    static func expand(_ channels: [Int], by hw: Int) -> [Int] {
        channels.flatMap { c in (c * hw)..<((c + 1) * hw) }
    }

    /// Units whose weight row, bias and follower entries (a batch norm's gamma and beta) are
    /// all exactly 0 are dropped; the rest are kept. At least one unit is always kept, so the
    /// layer stays a layer.
    static func liveUnits(weight: Parameter, bias: Parameter, followers: [Parameter] = []) -> [Int] {
        let n = weight.value.shape[0], d = weight.value.count / n
        let b = ([bias] + followers).map(\.value.scalars)
        let live = weight.value.scalars.withUnsafeBufferPointer { w in
            (0..<n).filter { u in b.contains { $0[u] != 0 } || (0..<d).contains { w[u * d + $0] != 0 } }
        }
        return live.isEmpty ? [0] : live
    }

    /// Whether every layer after `index` up to the next weighted layer maps 0 to 0.
    static func zeroMapsToZero(after index: Int, in layers: [Layer]) -> Bool {
        for layer in layers[(index + 1)...] {
            if layer.parameters.contains(where: \.isPrunable) { return true }
            if let a = layer as? Activation, !a.kind.mapsZeroToZero { return false }
        }
        return true
    }
}

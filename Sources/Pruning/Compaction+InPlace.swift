import TensorCore
import NN

extension Compaction {
    /// Removes units from a model in place, during training: each weighted layer named in
    /// `keeping` keeps only the listed output units (sorted indices into its current units), the
    /// next weighted layer keeps only the matching inputs (the input channels of a convolution,
    /// or each channel's H*W columns of a dense layer after flattening), and a batch norm on the
    /// way keeps the same channels (its `gamma`, `beta` and running statistics). Layers without
    /// weights stay the same objects; unlike `compact`, batch norms are not folded, so the model
    /// trains on as before, only smaller.
    ///
    /// Returns, for every parameter that changed, the flat indices of the old parameter's entries
    /// the new one holds, in its order (a parameter not listed is the same object as before):
    /// optimizer state is carried over with them. Values and masks are copied.
    public static func removeUnits(from model: Sequential, keeping: [String: [Int]]) throws -> [String: [Int]] {
        var maps: [String: [Int]] = [:]
        var newLayers: [Layer] = []
        var keptIn: [Int]? = nil  // kept channels / features of the tensor flowing in; nil: all
        for (i, layer) in model.layers.enumerated() {
            let inShape = model.layerInputShapes[i]
            if let c = layer as? any Compactable {
                let outKeep = keeping[c.name]
                guard keptIn != nil || outKeep != nil else {
                    newLayers.append(layer)
                    continue
                }
                var inKeep = keptIn ?? Array(0..<c.inputUnits(inputShape: inShape))
                if c is Dense, inShape.count == 3, let channels = keptIn { inKeep = expand(channels, by: inShape[1] * inShape[2]) }
                let outs = outKeep ?? Array(0..<c.outputUnits)
                newLayers.append(c.compacted(outputs: outs, inputs: inKeep))
                maps[c.weight.name] = c.keptWeightIndices(outputs: outs, inputs: inKeep)
                maps[c.bias.name] = outs
                keptIn = outKeep
            } else if let bn = layer as? BatchNorm {
                guard let channels = keptIn else {
                    newLayers.append(layer)
                    continue
                }
                let small = bn.compacted(channels: channels)
                small.alwaysUseBatchStatistics = bn.alwaysUseBatchStatistics
                newLayers.append(small)
                maps[bn.gamma.name] = channels
                maps[bn.beta.name] = channels
            } else if layer is Block {
                throw PruningError("units cannot be removed across the block \(layer.name); use models without residual or concat blocks")
            } else if layer.prunableWeight != nil {
                throw PruningError("units cannot be removed from \(layer.name) (\(type(of: layer))); make it Compactable")
            } else {
                // Flatten turns kept channels into their features; pooling, activations and
                // dropout act per channel or feature, so the kept set passes through.
                if layer is Flatten, let channels = keptIn, inShape.count == 3 { keptIn = expand(channels, by: inShape[1] * inShape[2]) }
                newLayers.append(layer)
            }
        }
        model.replaceLayers(newLayers)
        return maps
    }
}

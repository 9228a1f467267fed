import TensorCore
import NN

/// Rebuilds a structurally pruned model as a physically smaller one.
///
/// A unit (conv filter or dense neuron) is removable when its weights and its bias are all
/// exactly 0 and every activation between it and the next layer with weights maps 0 to 0
/// (ReLU, tanh, none; not sigmoid). Its output is then exactly 0 whatever the input, so
/// dropping it, together with the matching inputs of the next layer (the input channel of a
/// convolution, or the channel's H*W columns of a dense layer after flattening), leaves the
/// network's outputs unchanged: the compacted model computes the same function with fewer
/// weights. Masks of the kept entries carry over, so unstructured sparsity inside the kept
/// units survives. The last weighted layer keeps all its outputs (they are the classes).
public enum Compaction {
    public struct Result {
        public let model: Sequential
        /// Kept output units of each weighted layer, by layer name (indices into the original).
        public let keptUnits: [String: [Int]]
        /// Units per weighted layer before and after, in layer order.
        public let units: [(layer: String, before: Int, after: Int)]
    }

    public static func compact(_ model: Sequential) -> Result {
        let layers = model.layers
        let weighted = layers.indices.filter { layers[$0].parameters.contains(where: \.isPrunable) }
        let lastWeighted = weighted.last
        var kept: [String: [Int]] = [:]
        var units: [(String, Int, Int)] = []
        var newLayers: [Layer] = []
        // Kept indices along the channel (rank-3 activations) or feature (rank-1) axis of the
        // tensor flowing into layer i; nil means all of them.
        var keptIn: [Int]? = nil
        for (i, layer) in layers.enumerated() {
            let inShape = model.layerInputShapes[i]
            switch layer {
            case let conv as Conv2D:
                let inKeep = keptIn ?? Array(0..<conv.inChannels)
                let outKeep = i == lastWeighted || !zeroMapsToZero(after: i, in: layers)
                    ? Array(0..<conv.outChannels) : liveUnits(weight: conv.weight, bias: conv.bias)
                let c = Conv2D(name: conv.name, inChannels: inKeep.count, outChannels: outKeep.count,
                               kernel: conv.kernel, stride: conv.stride, padding: conv.padding)
                let kk = conv.kernel * conv.kernel
                copy(conv.weight, into: c.weight) { _ in
                    var out: [Int] = []
                    out.reserveCapacity(outKeep.count * inKeep.count * kk)
                    for o in outKeep { for ch in inKeep { for t in 0..<kk { out.append((o * conv.inChannels + ch) * kk + t) } } }
                    return out
                }
                copy(conv.bias, into: c.bias) { _ in outKeep }
                kept[conv.name] = outKeep
                units.append((conv.name, conv.outChannels, outKeep.count))
                newLayers.append(c)
                keptIn = outKeep
            case let dense as Dense:
                var inKeep = keptIn ?? Array(0..<dense.inputSize)
                if inShape.count == 3, let channels = keptIn {
                    // Dense flattens [C, H, W] itself: channel c owns columns c*H*W ..< (c+1)*H*W.
                    let hw = inShape[1] * inShape[2]
                    inKeep = channels.flatMap { c in (c * hw)..<((c + 1) * hw) }
                }
                let outKeep = i == lastWeighted || !zeroMapsToZero(after: i, in: layers)
                    ? Array(0..<dense.outputSize) : liveUnits(weight: dense.weight, bias: dense.bias)
                let d = Dense(name: dense.name, inputSize: inKeep.count, outputSize: outKeep.count)
                copy(dense.weight, into: d.weight) { _ in
                    outKeep.flatMap { o in inKeep.map { o * dense.inputSize + $0 } }
                }
                copy(dense.bias, into: d.bias) { _ in outKeep }
                kept[dense.name] = outKeep
                units.append((dense.name, dense.outputSize, outKeep.count))
                newLayers.append(d)
                keptIn = outKeep
            case let flatten as Flatten:
                if let channels = keptIn, inShape.count == 3 {
                    let hw = inShape[1] * inShape[2]
                    keptIn = channels.flatMap { c in (c * hw)..<((c + 1) * hw) }
                }
                newLayers.append(Flatten(name: flatten.name))
            default:
                // Pooling and activations act per channel / per feature: the kept set passes through.
                precondition(layer.parameters.isEmpty, "compaction does not know layer \(layer.name) (\(type(of: layer)))")
                newLayers.append(layer.replica())
            }
        }
        let newInput = model.inputShape
        let compacted = Sequential(layers: newLayers, inputShape: newInput, loss: model.loss)
        return Result(model: compacted, keptUnits: kept, units: units.map { (layer: $0.0, before: $0.1, after: $0.2) })
    }

    /// Units whose weight row and bias are all exactly 0 are dropped; the rest are kept. At
    /// least one unit is always kept, so the layer stays a layer.
    static func liveUnits(weight: Parameter, bias: Parameter) -> [Int] {
        let n = weight.value.shape[0], d = weight.value.count / n
        let b = bias.value.scalars
        let live = weight.value.scalars.withUnsafeBufferPointer { w in
            (0..<n).filter { u in b[u] != 0 || (0..<d).contains { w[u * d + $0] != 0 } }
        }
        return live.isEmpty ? [0] : live
    }

    /// Whether every layer after `index` up to the next weighted layer maps 0 to 0.
    static func zeroMapsToZero(after index: Int, in layers: [Layer]) -> Bool {
        for layer in layers[(index + 1)...] {
            if layer.parameters.contains(where: \.isPrunable) { return true }
            if let a = layer as? Activation, a.kind == .sigmoid { return false }
        }
        return true
    }

    /// Copies the entries at `indices(source)` of `source` (value, and mask when present)
    /// into `target`, in order.
    static func copy(_ source: Parameter, into target: Parameter, indices: (Parameter) -> [Int]) {
        let idx = indices(source)
        precondition(idx.count == target.value.count, "\(source.name): \(idx.count) entries for a target of \(target.value.count)")
        let values = source.value.scalars
        target.value = Tensor(shape: target.value.shape, scalars: idx.map { values[$0] })
        if let mask = source.mask {
            let m = idx.map { mask.scalars[$0] }
            target.setMask(m.allSatisfy { $0 != 0 } ? nil : Tensor(shape: target.value.shape, scalars: m))
        }
    }
}

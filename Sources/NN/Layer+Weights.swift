import TensorCore

extension Layer {
    /// The layer's prunable weight (`fc1.weight`, `conv1.weight`), nil for a layer without one
    /// and for a composite (whose layers have their own).
    public var prunableWeight: Parameter? { sublayers.isEmpty ? parameters.first(where: \.isPrunable) : nil }
    /// The bias of a layer with a prunable weight (its parameter that is not prunable).
    public var biasParameter: Parameter? { prunableWeight == nil ? nil : parameters.first { !$0.isPrunable } }
}

extension Parameter {
    /// The layer part of the name: `fc1` for `fc1.weight`.
    public var layerName: String { String(name.split(separator: ".").first ?? "") }

    /// The mask, or all ones where the parameter is dense.
    public var keptMask: Tensor { mask ?? Tensor(shape: value.shape, repeating: 1) }

    /// Sparsity over `params`: the fraction of entries that are exactly 0.
    public static func sparsity(_ params: [Parameter]) -> Double {
        let total = params.reduce(0) { $0 + $1.value.count }
        let nz = params.reduce(0) { $0 + $1.value.nonzeroCount }
        return total == 0 ? 0 : 1 - Double(nz) / Double(total)
    }
}

/// A layer with a prunable weight, its weight and its bias.
public struct WeightedLayer {
    public let layer: Layer
    public let weight: Parameter
    public let bias: Parameter?
    public var name: String { layer.name }
}

extension Sequential {
    /// Every layer with a prunable weight, in order, composites' layers included.
    public var weightedLayers: [WeightedLayer] {
        leafLayers.compactMap { l in l.prunableWeight.map { WeightedLayer(layer: l, weight: $0, bias: l.biasParameter) } }
    }
}

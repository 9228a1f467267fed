import TensorCore
import NN

/// One prunable unit group: the layer whose output units (rows of `weight`, entries of `bias`)
/// are removed whole.
public struct UnitLayer {
    public let name: String
    public let weight: Parameter
    public let bias: Parameter?

    public init(name: String, weight: Parameter, bias: Parameter?) {
        self.name = name
        self.weight = weight
        self.bias = bias
    }

    /// Output units: filters of a conv layer (`weight[o, ...]`), neurons of a dense layer.
    public var units: Int { weight.value.shape[0] }
    /// Weights per unit.
    public var unitSize: Int { weight.value.count / units }

    /// Units whose mask row is not entirely 0 (all of them when dense).
    public var keptUnits: [Bool] {
        guard let mask = weight.mask else { return [Bool](repeating: true, count: units) }
        let d = unitSize
        return mask.scalars.withUnsafeBufferPointer { m in
            (0..<units).map { u in (0..<d).contains { m[u * d + $0] != 0 } }
        }
    }
}

public enum StructuredPruning {
    /// The criterion's score of every unit (higher means more important); units that are not
    /// `alive` get 0 and are ignored by distance-based criteria.
    public static func scores(_ layer: UnitLayer, criterion: any UnitCriterion.Type, alive: [Bool]) -> [Float] {
        precondition(alive.count == layer.units, "\(layer.name): \(alive.count) alive flags for \(layer.units) units")
        return criterion.scores(layer, alive: alive)
    }

    /// Which units to keep when `remove` of the alive ones go: the lowest scores, ties to the
    /// lower index (see `Selection.lowest`). Units already removed stay removed.
    public static func select(
        _ layer: UnitLayer, criterion: any UnitCriterion.Type, remove: Int,
        alive: [Bool]? = nil
    ) -> [Bool] {
        let alive = alive ?? layer.keptUnits
        return keep(scores: scores(layer, criterion: criterion, alive: alive), alive: alive, remove: remove)
    }

    /// The units kept when the `remove` alive units with the lowest `scores` go.
    public static func keep(scores: [Float], alive: [Bool], remove: Int) -> [Bool] {
        var kept = alive
        for u in Selection.lowest(scores, alive: alive, count: remove) { kept[u] = false }
        return kept
    }

    /// Units to remove for a fraction `ratio` of `units` (rounded to nearest, at least one kept).
    public static func removeCount(units: Int, ratio: Double) -> Int {
        min(units - 1, max(0, Int((ratio * Double(units)).rounded())))
    }

    /// Masks the removed units: their weight rows and bias entries (and so their momentum,
    /// which the optimizer masks too) become and stay 0, so a removed unit outputs exactly 0.
    public static func applyMask(_ layer: UnitLayer, kept: [Bool]) {
        let d = layer.unitSize, n = layer.units
        var mask = layer.weight.keptMask
        mask.scalars.withUnsafeMutableBufferPointer { m in
            for u in 0..<n where !kept[u] {
                for i in 0..<d { m[u * d + i] = 0 }
            }
        }
        layer.weight.setMask(mask)
        if let bias = layer.bias {
            let bm = Tensor(shape: bias.value.shape, scalars: kept.map { $0 ? 1 : 0 })
            bias.setMask(kept.allSatisfy { $0 } ? nil : bm)
        }
    }

    /// Zeroes the removed units' weights and biases without masking them (soft filter pruning,
    /// He et al. 2018/2019: the zeroed units keep training and may come back). Returns how many
    /// units were zeroed.
    @discardableResult
    public static func zero(_ layer: UnitLayer, kept: [Bool]) -> Int {
        let d = layer.unitSize, n = layer.units
        layer.weight.value.scalars.withUnsafeMutableBufferPointer { w in
            for u in 0..<n where !kept[u] {
                for i in 0..<d { w[u * d + i] = 0 }
            }
        }
        if let bias = layer.bias {
            bias.value.scalars.withUnsafeMutableBufferPointer { b in
                for u in 0..<n where !kept[u] { b[u] = 0 }
            }
        }
        return kept.lazy.filter { !$0 }.count
    }

    /// The unit layers of a model, in order: every layer with a prunable weight.
    public static func unitLayers(_ model: Sequential) -> [UnitLayer] {
        model.weightedLayers.map { UnitLayer(name: $0.name, weight: $0.weight, bias: $0.bias) }
    }
}

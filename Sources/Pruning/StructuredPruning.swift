import TensorCore
import NN

/// One prunable unit group: the layer whose output units (rows of `weight`, entries of `bias`)
/// are removed whole, and the per-unit parameters of the batch norm that follows it
/// (`followers`: its `gamma` and `beta`, one entry per unit), removed with them so that a
/// removed unit's channel is exactly 0 after the normalization too.
public struct UnitLayer {
    public let name: String
    public let weight: Parameter
    public let bias: Parameter?
    public let followers: [Parameter]

    public init(name: String, weight: Parameter, bias: Parameter?, followers: [Parameter] = []) {
        self.name = name
        self.weight = weight
        self.bias = bias
        self.followers = followers
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
        for p in ([layer.bias].compactMap { $0 } + layer.followers) {
            let bm = Tensor(shape: p.value.shape, scalars: kept.map { $0 ? 1 : 0 })
            p.setMask(kept.allSatisfy { $0 } ? nil : bm)
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
        for p in ([layer.bias].compactMap { $0 } + layer.followers) {
            p.value.scalars.withUnsafeMutableBufferPointer { b in
                for u in 0..<n where !kept[u] { b[u] = 0 }
            }
        }
        return kept.lazy.filter { !$0 }.count
    }

    /// The unit layers of a model, in order: every layer with a prunable weight, with the
    /// batch norm that follows it (before the next weighted layer) as its followers.
    public static func unitLayers(_ model: Sequential) -> [UnitLayer] {
        model.weightedLayers.map { w in
            let bn = followingBatchNorm(of: w.layer, in: model.layers)
            return UnitLayer(name: w.name, weight: w.weight, bias: w.bias, followers: bn.map { [$0.gamma, $0.beta] } ?? [])
        }
    }

    /// The first batch norm after top-level `layer` and before the next layer with weights
    /// (nil inside composites, which compaction does not reach into).
    public static func followingBatchNorm(of layer: Layer, in layers: [Layer]) -> BatchNorm? {
        guard let i = layers.firstIndex(where: { $0 === layer }) else { return nil }
        for l in layers[(i + 1)...] {
            if let bn = l as? BatchNorm { return bn }
            if !l.parameters.isEmpty { return nil }
        }
        return nil
    }
}

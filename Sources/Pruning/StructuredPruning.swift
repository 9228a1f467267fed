import TensorCore
import NN

/// How whole units (conv filters, dense neurons) are ranked for removal.
///
/// - `l1`: the L1 norm of the unit's weights (Li et al. 2017, "Pruning Filters for Efficient
///   ConvNets"); the smallest norms go first.
/// - `fpgm`: filter pruning via geometric median (He et al. 2019). The units nearest the
///   geometric median of their layer are the most replaceable by the others; as in the
///   authors' code (`similar_matrix = cdist(W, W); similar_sum = sum(similar_matrix, 0)`),
///   the score of a unit is the sum of its Euclidean distances to the layer's other kept
///   units, and the smallest sums go first.
public enum StructuredCriterion: String, Codable, Sendable, CaseIterable {
    case l1, fpgm
}

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
    /// `alive` get 0 and are ignored by FPGM's distance sums.
    public static func scores(_ layer: UnitLayer, criterion: StructuredCriterion, alive: [Bool]) -> [Float] {
        let n = layer.units, d = layer.unitSize
        precondition(alive.count == n, "\(layer.name): \(alive.count) alive flags for \(n) units")
        return layer.weight.value.scalars.withUnsafeBufferPointer { w in
            switch criterion {
            case .l1:
                return (0..<n).map { u in
                    guard alive[u] else { return 0 }
                    var s = 0.0
                    for i in 0..<d { s += Double(abs(w[u * d + i])) }
                    return Float(s)
                }
            case .fpgm:
                // Pairwise distances in Double (n is at most a few hundred units).
                var sums = [Double](repeating: 0, count: n)
                for a in 0..<n where alive[a] {
                    for b in (a + 1)..<n where alive[b] {
                        var s = 0.0
                        for i in 0..<d {
                            let t = Double(w[a * d + i]) - Double(w[b * d + i])
                            s += t * t
                        }
                        let dist = s.squareRoot()
                        sums[a] += dist
                        sums[b] += dist
                    }
                }
                return sums.map { Float($0) }
            }
        }
    }

    /// Which units to keep when `remove` of the alive ones go: the lowest scores, ties to the
    /// lower index (see `Selection.lowest`). Units already removed stay removed.
    public static func select(_ layer: UnitLayer, criterion: StructuredCriterion, remove: Int,
                              alive: [Bool]? = nil) -> [Bool] {
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
        var mask = layer.weight.mask ?? Tensor(shape: layer.weight.value.shape, repeating: 1)
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
        model.layers.compactMap { layer in
            guard let w = layer.parameters.first(where: \.isPrunable) else { return nil }
            return UnitLayer(name: layer.name, weight: w, bias: layer.parameters.first { !$0.isPrunable })
        }
    }
}

/// The L1 norm of the unit's weights (Li et al. 2017, "Pruning Filters for Efficient
/// ConvNets"); the smallest norms go first.
public enum L1UnitCriterion: UnitCriterion {
    public static let name = "l1"
    public static let summary = "L1 norm of each filter or neuron (Li et al. 2017)"

    public static func scores(_ layer: UnitLayer, alive: [Bool]) -> [Float] {
        let n = layer.units, d = layer.unitSize
        return layer.weight.value.scalars.withUnsafeBufferPointer { w in
            (0..<n).map { u in
                guard alive[u] else { return 0 }
                var s = 0.0
                for i in 0..<d { s += Double(abs(w[u * d + i])) }
                return Float(s)
            }
        }
    }
}

/// Filter pruning via geometric median (He et al. 2019). The units nearest the geometric
/// median of their layer are the most replaceable by the others; as in the authors' code
/// (`similar_matrix = cdist(W, W); similar_sum = sum(similar_matrix, 0)`), the score of a unit
/// is the sum of its Euclidean distances to the layer's other kept units, and the smallest
/// sums go first.
public enum FPGMUnitCriterion: UnitCriterion {
    public static let name = "fpgm"
    public static let summary = "sum of distances to the layer's other units: nearest the geometric median go first (He et al. 2019)"

    public static func scores(_ layer: UnitLayer, alive: [Bool]) -> [Float] {
        let n = layer.units, d = layer.unitSize
        return layer.weight.value.scalars.withUnsafeBufferPointer { w in
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

/// Turns scores into exact pruning decisions.
///
/// Everything that prunes goes through `lowest(_:alive:count:)`, so "prune exactly k" means
/// the same thing for every criterion: the k surviving entries with the lowest score, ties
/// broken by position (the entry that comes first, in layer order then row-major index, is
/// pruned first). Hence every kept score is >= every pruned score.
public enum Selection {
    /// Positions of the `count` alive entries with the lowest scores (fewer if fewer are alive).
    public static func lowest(_ scores: [Float], alive: [Bool], count: Int) -> [Int] {
        precondition(scores.count == alive.count, "\(scores.count) scores for \(alive.count) entries")
        guard count > 0 else { return [] }
        var candidates: [Int] = []
        candidates.reserveCapacity(scores.count)
        for i in 0..<scores.count where alive[i] { candidates.append(i) }
        if count >= candidates.count { return candidates }
        candidates.sort { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return Array(candidates[0..<count])
    }

    /// Percentile of `values` with numpy's default linear interpolation
    /// (`np.percentile(values, p)`): position `(n-1) p/100` between the sorted neighbours.
    /// Returns nil for an empty input (numpy raises there).
    public static func percentile(_ values: [Float], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let pos = Double(s.count - 1) * min(max(p, 0), 100) / 100
        let lo = Int(pos.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        let frac = pos - Double(lo)
        return Double(s[lo]) + (Double(s[hi]) - Double(s[lo])) * frac
    }
}

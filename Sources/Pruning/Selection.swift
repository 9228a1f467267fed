/// Turns scores into exact pruning decisions.
///
/// Everything that prunes goes through `lowest(_:alive:count:)`, so "prune exactly k" means
/// the same thing for every criterion: the k surviving entries with the lowest score, ties
/// broken by position (the entry that comes first, in layer order then row-major index, is
/// pruned first). Hence every kept score is >= every pruned score.
public enum Selection {
    /// Positions of the `count` alive entries with the lowest scores (fewer if fewer are alive).
    ///
    /// Sorts one 64-bit key per alive entry: the score's bits mapped to an unsigned integer
    /// that orders like the float (`orderKey`), above the position, so ties go to the lower
    /// position with no comparison closure (several times faster than sorting indices by a
    /// closure, which mattered for prune curves: hundreds of selections over 430k weights).
    public static func lowest(_ scores: [Float], alive: [Bool], count: Int) -> [Int] {
        precondition(scores.count == alive.count, "\(scores.count) scores for \(alive.count) entries")
        precondition(scores.count <= Int(UInt32.max), "at most 2^32 entries per selection")
        guard count > 0 else { return [] }
        var keys: [UInt64] = []
        keys.reserveCapacity(scores.count)
        for i in 0..<scores.count where alive[i] {
            keys.append(UInt64(orderKey(scores[i])) << 32 | UInt64(i))
        }
        if count >= keys.count { return keys.map { Int($0 & 0xFFFF_FFFF) } }
        partitionSmallest(&keys, count: count)
        keys[0..<count].sort()
        return keys[0..<count].map { Int($0 & 0xFFFF_FFFF) }
    }

    /// Moves the `count` smallest of the (distinct) keys to the front, in no order: Hoare's
    /// quickselect with a median-of-three pivot, O(n) on average. The standard library has no
    /// nth_element, and a check prunes at most a tenth of a layer, so this beats sorting all
    /// keys (measured: the sort was 2.5% of a LeNet-300-100 `linear` run).
    static func partitionSmallest(_ keys: inout [UInt64], count: Int) {
        var lo = 0, hi = keys.count - 1
        keys.withUnsafeMutableBufferPointer { k in
            while lo < hi {
                let mid = lo + (hi - lo) / 2
                let pivot = max(min(k[lo], k[mid]), min(max(k[lo], k[mid]), k[hi]))
                var i = lo, j = hi
                while i <= j {
                    while k[i] < pivot { i += 1 }
                    while k[j] > pivot { j -= 1 }
                    if i <= j {
                        k.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                // Now k[lo...j] <= pivot <= k[i...hi], and every key strictly between is the pivot.
                if count - 1 <= j {
                    hi = j
                } else if count - 1 >= i {
                    lo = i
                } else {
                    return
                }
            }
        }
    }

    /// An unsigned integer with the same order as `x` (IEEE-754 bits with the sign folded in;
    /// -0 and +0 map to the same key, as they compare equal).
    @inline(__always)
    static func orderKey(_ x: Float) -> UInt32 {
        let b = x == 0 ? Float(0).bitPattern : x.bitPattern
        return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
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

import Foundation
import TensorCore

/// Small descriptive statistics used by reports and benchmarks.
public enum Statistics {
    /// Median (mean of the two middle values for an even count); NaN when empty.
    public static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }

    public static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
    }

    /// Sample standard deviation (n - 1); 0 for fewer than two values.
    public static func standardDeviation(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot()
    }
}

extension Statistics {
    /// The two-sided 95% Student-t critical value, the 0.975 quantile of t with `degreesOfFreedom` ν.
    ///
    /// ν = 1...30: tabulated values (scipy.stats.t.ppf(0.975, ν), 9 decimals). ν > 30: the
    /// Cornish-Fisher expansion of the t quantile around the normal quantile z = 1.959964
    /// (Abramowitz & Stegun 26.7.5, terms up to ν⁻⁴):
    ///
    ///     t ≈ z + g1(z)/ν + g2(z)/ν² + g3(z)/ν³ + g4(z)/ν⁴
    ///     g1 = (z³ + z)/4
    ///     g2 = (5z⁵ + 16z³ + 3z)/96
    ///     g3 = (3z⁷ + 19z⁵ + 17z³ − 15z)/384
    ///     g4 = (79z⁹ + 776z⁷ + 1482z⁵ − 1920z³ − 945z)/92160
    ///
    /// which is within 3e-8 of the exact value for every ν > 30 and tends to z as ν → ∞.
    /// ν < 1 is a programmer error (precondition).
    public static func tQuantile975(degreesOfFreedom: Int) -> Double {
        precondition(degreesOfFreedom >= 1, "t quantile needs degreesOfFreedom >= 1, got \(degreesOfFreedom)")
        if degreesOfFreedom <= tTable975.count { return tTable975[degreesOfFreedom - 1] }
        let z = 1.959963984540054
        let v = Double(degreesOfFreedom)
        let z2 = z * z
        let z3 = z2 * z, z5 = z3 * z2, z7 = z5 * z2, z9 = z7 * z2
        let g1 = (z3 + z) / 4
        let g2 = (5 * z5 + 16 * z3 + 3 * z) / 96
        let g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384
        let g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160
        return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
    }

    /// t₀.₉₇₅ for ν = 1...30 (scipy.stats.t.ppf(0.975, ν)).
    static let tTable975: [Double] = [
        12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
        2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
        2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
        2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
        2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
        2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
    ]

    /// The Jaccard index of the pruned entries of two mask sets, |A ∩ B| / |A ∪ B|.
    ///
    /// Masks are keyed by parameter name (`fc1.weight`); an entry equal to 0 is pruned, any
    /// other value kept. A and B are the sets of (name, flat index) pairs pruned in `a` and in
    /// `b`, taken over the names both dictionaries hold with equal shapes; names in only one
    /// dictionary, or with different shapes, are ignored. Returns nil when no name qualifies,
    /// and 1 when neither side prunes anything (A ∪ B = ∅: the masks agree).
    public static func jaccard(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double? {
        var intersection = 0, union = 0, common = 0
        for (name, ma) in a {
            guard let mb = b[name], mb.shape == ma.shape else { continue }
            common += 1
            ma.scalars.withUnsafeBufferPointer { pa in
                mb.scalars.withUnsafeBufferPointer { pb in
                    for i in 0..<pa.count {
                        let prunedA = pa[i] == 0, prunedB = pb[i] == 0
                        if prunedA && prunedB { intersection += 1 }
                        if prunedA || prunedB { union += 1 }
                    }
                }
            }
        }
        guard common > 0 else { return nil }
        return union == 0 ? 1 : Double(intersection) / Double(union)
    }
}

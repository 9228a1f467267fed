import Foundation
import TensorCore

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

/// One (method, seed) run of a comparison, with its summary values by column name.
///
/// Keys are summary columns: `test_accuracy`, `sparsity`, `train_flops`, `dense_train_flops`,
/// `wall_seconds`, `jaccard_vs_han`, ...; a missing key means the run has no such value.
public struct ComparisonRow: Equatable, Sendable {
    public var method: String
    public var seed: Int
    public var values: [String: Double]

    public init(method: String, seed: Int, values: [String: Double]) {
        self.method = method
        self.seed = seed
        self.values = values
    }
}

/// Tables comparing pruning methods over seeds: a CSV of the raw rows and a Markdown summary.
///
/// The Markdown summary gives, per metric and method, the seed count n, the mean and the sample
/// standard deviation, and for every method except the baseline the mean paired difference
/// from the baseline with a 95% Student-t interval (see `markdown`).
public enum ComparisonReport {
    /// The rows as a CSV table: columns `method`, `seed`, then `columns` in the given order.
    ///
    /// One CSV row per `ComparisonRow`, in input order; a value the row lacks is an empty cell;
    /// NaN and infinities are written as `nan`, `inf`, `-inf` (see `CSVValue`).
    public static func csv(_ rows: [ComparisonRow], columns: [String]) -> CSVTable {
        var t = CSVTable(columns: ["method", "seed"] + columns)
        for r in rows {
            t.append([.string(r.method), .int(r.seed)] + columns.map { c in r.values[c].map(CSVValue.double) ?? .string("") })
        }
        return t
    }

    /// A Markdown report: one table per metric, one line per method, then a note on the intervals.
    ///
    /// Methods appear in order of first appearance in `rows`. For a method and a metric, the
    /// sample is the metric's value per seed (the first row of that method and seed holding a
    /// non-NaN value; rows without the value are skipped):
    ///
    ///     n = number of seeds,  mean ± s  with  s = √(Σ (x − x̄)² / (n − 1))  (s = 0 for n = 1)
    ///
    /// For a method other than `baseline`, the paired differences dᵢ = xᵢ − baselineᵢ over the
    /// seeds both have (seeds of only one side are left out) give
    ///
    ///     Δ = mean(d),  95% CI = Δ ± t₀.₉₇₅,ₙ₋₁ · s_d / √n,   n = number of pairs
    ///
    /// With one pair the table shows Δ and "n=1, no interval"; with none, "no paired seeds";
    /// when the baseline is absent, "no baseline". A metric no row holds prints "_no values_".
    /// Numbers are formatted by metric name: containing `flops` → value / 1e9 with 1 decimal
    /// and a `G` suffix; containing `seconds` → 2 decimals; otherwise 4 decimals. Δ carries an
    /// explicit sign. The output depends only on the arguments (no dictionary order, no clock).
    public static func markdown(_ rows: [ComparisonRow], metrics: [String], baseline: String = "han",
                                title: String) -> String {
        var methods: [String] = []
        for r in rows where !methods.contains(r.method) { methods.append(r.method) }

        var out = "# \(title)\n\n"
        for metric in metrics {
            let fmt = NumberStyle(metric: metric)
            out += "## \(metric)\(fmt.unitHeading)\n\n"
            let samples = methods.map { seedValues(rows, method: $0, metric: metric) }
            guard samples.contains(where: { !$0.isEmpty }) else {
                out += "_no values_\n\n"
                continue
            }
            let base = methods.firstIndex(of: baseline).map { samples[$0] } ?? []
            out += "| method | n | mean ± std | Δ vs \(cell(baseline)) | 95% CI of Δ | pairs |\n"
            out += "|:--|--:|--:|--:|--:|--:|\n"
            for (method, sample) in zip(methods, samples) {
                let xs = sample.map(\.value)
                let summary = xs.isEmpty ? "—"
                    : "\(fmt.format(Statistics.mean(xs))) ± \(fmt.format(Statistics.standardDeviation(xs)))"
                var delta = "—", interval = "", pairs = ""
                if method == baseline {
                    delta = "baseline"
                } else if base.isEmpty {
                    interval = "no baseline"
                } else {
                    let d = pairedDifferences(sample, base)
                    pairs = String(d.count)
                    switch d.count {
                    case 0:
                        interval = "no paired seeds"
                    case 1:
                        delta = fmt.format(d[0], signed: true)
                        interval = "n=1, no interval"
                    default:
                        let ci = pairedInterval(d)
                        delta = fmt.format(ci.mean, signed: true)
                        interval = "[\(fmt.format(ci.lo)), \(fmt.format(ci.hi))]"
                    }
                }
                out += "| \(cell(method)) | \(xs.count) | \(summary) | \(delta) | \(interval) | \(pairs) |\n"
            }
            out += "\n"
        }
        out += "Mean ± sample standard deviation (n − 1) over seeds. Δ is the mean of the per-seed differences "
            + "(method − \(baseline)) over the seeds both ran; 95% CI = Δ ± t(0.975, n − 1) · s_Δ / √n with n paired "
            + "seeds. FLOPs in GFLOP (G).\n"
        return out
    }

    /// Mean of `d` with its 95% t-interval, mean ± t₀.₉₇₅,ₙ₋₁ · sd / √n; needs at least two values.
    static func pairedInterval(_ d: [Double]) -> (mean: Double, lo: Double, hi: Double) {
        precondition(d.count >= 2, "a t-interval needs at least two differences, got \(d.count)")
        let m = Statistics.mean(d)
        let half = Statistics.tQuantile975(degreesOfFreedom: d.count - 1)
            * Statistics.standardDeviation(d) / Double(d.count).squareRoot()
        return (m, m - half, m + half)
    }

    /// The metric per seed for one method, in row order; first non-NaN value per seed.
    static func seedValues(_ rows: [ComparisonRow], method: String, metric: String) -> [(seed: Int, value: Double)] {
        var out: [(seed: Int, value: Double)] = []
        for r in rows where r.method == method {
            guard let v = r.values[metric], !v.isNaN, !out.contains(where: { $0.seed == r.seed }) else { continue }
            out.append((r.seed, v))
        }
        return out
    }

    /// x − baseline for each seed of `x` (in `x`'s order) that `baseline` also has.
    static func pairedDifferences(_ x: [(seed: Int, value: Double)], _ baseline: [(seed: Int, value: Double)]) -> [Double] {
        x.compactMap { s in baseline.first { $0.seed == s.seed }.map { s.value - $0.value } }
    }

    /// Text safe inside a Markdown table cell.
    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    /// How one metric's numbers are printed, chosen from its name.
    struct NumberStyle {
        var scale = 1.0, decimals = 4, suffix = "", unitHeading = ""

        init(metric: String) {
            let m = metric.lowercased()
            if m.contains("flops") {
                scale = 1e-9; decimals = 1; suffix = "G"; unitHeading = " (GFLOP)"
            } else if m.contains("seconds") {
                decimals = 2; unitHeading = " (s)"
            }
        }

        /// `x` scaled and rounded; a value that rounds to zero prints without a minus sign.
        func format(_ x: Double, signed: Bool = false) -> String {
            if x.isNaN { return "nan" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            var v = x * scale
            if abs(v) < 0.5 * pow(10, -Double(decimals)) { v = 0 }
            return String(format: "%\(signed ? "+" : "").\(decimals)f", v) + suffix
        }
    }
}

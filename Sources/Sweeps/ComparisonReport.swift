import Experiments
import Foundation
import TensorCore

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
    /// NaN and infinities are written as `nan`, `inf`, `-inf` (see `CSVValue`). A column in
    /// `integers` (a count) is written as an integer when its value is a whole number.
    public static func csv(_ rows: [ComparisonRow], columns: [String], integers: Set<String> = []) -> CSVTable {
        var t = CSVTable(columns: ["method", "seed"] + columns)
        for r in rows {
            t.append(
                [.string(r.method), .int(r.seed)]
                    + columns.map { c in r.values[c].map { cell($0, integer: integers.contains(c)) } ?? .string("") })
        }
        return t
    }

    /// `v` as an integer cell when `integer` and `v` is a whole number an `Int` holds, else as a double.
    static func cell(_ v: Double, integer: Bool) -> CSVValue {
        guard integer, v.isFinite, v == v.rounded(), abs(v) < 9.0e18 else { return .double(v) }
        return .int(Int(v))
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
    /// Numbers are formatted by metric name: a ratio (`…_vs_dense`, `…_vs_han`) → 3 decimals
    /// and an `x` suffix; containing `flops` → value / 1e9 with 1 decimal and a `G` suffix;
    /// containing `seconds` → 2 decimals; otherwise 4 decimals. Δ carries an
    /// explicit sign. The output depends only on the arguments (no dictionary order, no clock).
    public static func markdown(
        _ rows: [ComparisonRow], metrics: [String], baseline: String = "han",
        title: String
    ) -> String {
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
                let summary =
                    xs.isEmpty
                    ? "—"
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
        out +=
            "Mean ± sample standard deviation (n − 1) over seeds. Δ is the mean of the per-seed differences "
            + "(method − \(baseline)) over the seeds both ran; 95% CI = Δ ± t(0.975, n − 1) · s_Δ / √n with n paired "
            + "seeds. FLOPs in GFLOP (G).\n"
        return out
    }

    /// Mean of `d` with its 95% t-interval, mean ± t₀.₉₇₅,ₙ₋₁ · sd / √n; needs at least two values.
    package static func pairedInterval(_ d: [Double]) -> (mean: Double, lo: Double, hi: Double) {
        precondition(d.count >= 2, "a t-interval needs at least two differences, got \(d.count)")
        let m = Statistics.mean(d)
        let half =
            Statistics.tQuantile975(degreesOfFreedom: d.count - 1)
            * Statistics.standardDeviation(d) / Double(d.count).squareRoot()
        return (m, m - half, m + half)
    }

    /// The metric per seed for one method, in row order; first non-NaN value per seed.
    package static func seedValues(_ rows: [ComparisonRow], method: String, metric: String) -> [(seed: Int, value: Double)] {
        var out: [(seed: Int, value: Double)] = []
        for r in rows where r.method == method {
            guard let v = r.values[metric], !v.isNaN, !out.contains(where: { $0.seed == r.seed }) else { continue }
            out.append((r.seed, v))
        }
        return out
    }

    /// x − baseline for each seed of `x` (in `x`'s order) that `baseline` also has.
    package static func pairedDifferences(_ x: [(seed: Int, value: Double)], _ baseline: [(seed: Int, value: Double)]) -> [Double] {
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
            if let r = m.range(of: "_vs_"), m.hasPrefix("train_flops") || m.hasPrefix("wall_seconds") {
                decimals = 3; suffix = "x"; unitHeading = " (÷ the \(m[r.upperBound...]) arm of the same seed)"
            } else if m.contains("flops") {
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

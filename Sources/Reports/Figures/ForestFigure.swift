import Charts
import Experiments
import Foundation
import Sweeps

/// Paired differences from the baseline arm with 95% intervals, as a forest plot.
extension ReportFigures {
    /// The metrics compared, with how their differences are shown.
    static let forestMetrics: [(column: String, name: String, unit: String, factor: Double)] = [
        ("test_accuracy", "Δ test accuracy", "percentage points", 100),
        ("train_flops", "Δ training FLOPs", "", 1),
        ("wall_seconds", "Δ wall time", "s", 1),
    ]

    /// One row per (arm, seed) with its summary numbers: from the run folders when there are
    /// any, else from `comparison.csv` with `timing.csv`'s wall times. Also returns the source.
    static func comparisonRows(_ input: ReportInput) -> (rows: [ComparisonRow], source: String)? {
        if !input.runs.isEmpty {
            let rows = input.groups.flatMap { g in
                g.runs.map { r in
                    ComparisonRow(
                        method: g.label, seed: r.seed,
                        values: Dictionary(
                            uniqueKeysWithValues: forestMetrics.compactMap { m in r.number(m.column).map { (m.column, $0) } }))
                }
            }
            return (rows, "summary.csv of each run folder")
        }
        guard let c = input.comparison, let methods = try? c.strings("method"), let seeds = try? c.numbers("seed") else { return nil }
        var rows = methods.indices.map { i in
            ComparisonRow(method: methods[i], seed: Int(seeds[i]), values: [:])
        }
        for (table, _) in [(c, "comparison.csv"), (input.timing, "timing.csv")] {
            guard let table, (try? table.strings("method")) == methods else { continue }
            for m in forestMetrics {
                if let v = try? table.numbers(m.column) { for i in rows.indices where !v[i].isNaN { rows[i].values[m.column] = v[i] } }
            }
        }
        return (rows, input.display(c.file) + (input.timing.map { " and " + input.display($0.file) } ?? ""))
    }

    /// The x domain of a forest panel: 0 and every interval, except intervals wider than 5 times
    /// the median width (or lying beyond 5 median widths of the others), which are cut at the frame
    /// and named; padded by 10%.
    static func forestDomain(_ marks: [Mark], names: [String]) -> (domain: (Double, Double), cut: [String]) {
        var spans: [(row: Int, lo: Double, hi: Double)] = []
        for m in marks {
            if case .interval(let row, let lo, _, let hi, _) = m { spans.append((row, lo, hi)) }
            if case .dots(let p, _, _, _) = m, let pt = p.first { spans.append((Int(pt.1), pt.0, pt.0)) }
        }
        let widths = spans.map { max($0.hi - $0.lo, abs($0.lo + $0.hi) / 2) }.sorted()
        let typical = widths.isEmpty ? 0 : widths[widths.count / 2]
        let keep = spans.filter { typical == 0 || max($0.hi - $0.lo, abs($0.lo + $0.hi) / 2) <= 5 * typical }
        let lo = min(0, keep.map(\.lo).min() ?? 0), hi = max(0, keep.map(\.hi).max() ?? 0)
        let pad = max(hi - lo, 1e-12) * 0.1
        let cut = spans.filter { s in !keep.contains { $0.row == s.row } }.map { names[$0.row] }
        return (LinearScale.nice(lo - pad, hi + pad), cut)
    }

    static func forest(_ input: ReportInput) -> ReportFigure? {
        guard let (rows, source) = comparisonRows(input) else { return nil }
        var methods: [String] = []
        for r in rows where !methods.contains(r.method) { methods.append(r.method) }
        let baseline = methods.contains("han") ? "han" : methods.first ?? ""
        let others = methods.filter { $0 != baseline }
        guard !others.isEmpty else { return nil }
        var charts: [Chart] = [], singles = false, clipped: [String] = []
        for m in forestMetrics {
            let base = ComparisonReport.seedValues(rows, method: baseline, metric: m.column)
            let raw = others.map {
                ComparisonReport.pairedDifferences(ComparisonReport.seedValues(rows, method: $0, metric: m.column), base)
            }
            let biggest = raw.flatMap { $0.map(abs) }.max() ?? 0
            let unit =
                m.column.contains("flops")
                ? AxisUnit.flops(m.name, maximum: biggest) : AxisUnit(name: m.name, unit: m.unit, factor: m.factor)
            var marks: [Mark] = [.rule(x: 0, label: "")]
            for (i, o) in others.enumerated() {
                let d = raw[i].map { $0 * unit.factor }
                let color = Palette.color((methods.firstIndex(of: o) ?? i))
                if d.count >= 2 {
                    let ci = ComparisonReport.pairedInterval(d)
                    marks.append(.interval(row: i, lo: ci.lo, mid: ci.mean, hi: ci.hi, color: color))
                } else if let v = d.first {
                    singles = true
                    marks.append(.dots(points: [(v, Double(i))], color: color, radius: 4))
                }
            }
            guard marks.count > 1 else { continue }
            var c = Chart(x: AxisUnit(name: "\(m.name) vs \(baseline)", unit: unit.unit), y: AxisUnit(name: "arm", unit: ""), marks: marks)
            let (domain, cut) = forestDomain(marks, names: others)
            c.xDomain = domain
            if !cut.isEmpty { clipped.append("\(m.name): \(cut.joined(separator: ", "))") }
            c.categories = others
            c.width = 370
            c.height = max(160, 60 + 30 * Double(others.count))
            c.title = m.name
            charts.append(c)
        }
        guard !charts.isEmpty else { return nil }
        return ReportFigure(
            title: "Paired differences from \(baseline)", charts: charts,
            caption: "Mean of the per-seed differences (arm − \(baseline)) over the seeds both ran, with the 95% Student-t interval "
                + "Δ ± t(0.975, n − 1) · s_Δ / √n (square: mean, whiskers: interval)"
                + (singles ? "; a dot alone: a single paired seed, no interval" : "")
                + (clipped.isEmpty ? "" : "; cut at the frame, so the other arms stay readable: " + clipped.joined(separator: "; "))
                + ". From \(source).")
    }
}

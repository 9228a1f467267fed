import Foundation

extension Aggregate {
    /// `aggregate.md`: one table per report metric, one line per group.
    static func markdown(_ s: SweepRuns, baseline: String?, title: String) -> String {
        let axes = groupAxes(s), all = groups(s), present = metrics(s)
        var out = "# \(title)\n\n\(s.runs.count) completed runs in \(all.count) groups"
        out += s.unfinished.isEmpty ? ".\n\n" : "; not complete (left out): \(s.unfinished.joined(separator: ", ")).\n\n"
        out += curveMarkdown(s, baseline: baseline)
        let head =
            axes.map(ComparisonReport.cell) + ["label", "n", "mean ± std", "95% CI", "Δ vs \(baseline ?? "—")", "95% CI of Δ", "pairs"]
        for metric in reportMetrics where present.contains(metric) {
            let fmt = ComparisonReport.NumberStyle(metric: metric)
            out += "## \(metric)\(fmt.unitHeading)\n\n| " + head.joined(separator: " | ") + " |\n"
            out += "|" + Array(repeating: ":--|", count: axes.count + 1).joined() + "--:|--:|--:|--:|--:|--:|\n"
            for g in all {
                let st = stats(g, baseline: baselineGroup(of: g, in: all, axes: axes, baseline: baseline), metric: metric)
                let range = { (r: (lo: Double, hi: Double)?) in r.map { "[\(fmt.format($0.lo)), \(fmt.format($0.hi))]" } ?? "" }
                let summary = st.n == 0 ? "—" : "\(fmt.format(st.mean)) ± \(fmt.format(st.std))"
                let delta = g.label == baseline ? "baseline" : st.delta.map { fmt.format($0, signed: true) } ?? "—"
                let cells = g.values.map(ComparisonReport.cell) + [ComparisonReport.cell(g.label), String(st.n), summary, range(st.ci)]
                out +=
                    "| " + (cells + [delta, range(st.deltaCI), st.baseline.isEmpty ? "" : String(st.pairs)]).joined(separator: " | ")
                    + " |\n"
            }
            out += "\n"
        }
        out +=
            "Mean ± sample standard deviation (n − 1) over seeds; 95% CI = mean ± t(0.975, n − 1) · s / √n. "
            + "Δ is the mean of the per-seed differences from the baseline group (same axis values apart from the method) "
            + "over the seeds both ran, with its 95% t-interval. FLOPs in GFLOP (G).\n"
        return out
    }
}

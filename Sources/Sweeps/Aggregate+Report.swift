import Experiments
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
        out += costRatios(s, baseline: baseline, present: present)
        out +=
            "Mean ± sample standard deviation (n − 1) over seeds; 95% CI = mean ± t(0.975, n − 1) · s / √n. "
            + "Δ is the mean of the per-seed differences from the baseline group (same axis values apart from the method) "
            + "over the seeds both ran, with its 95% t-interval. FLOPs in GFLOP (G).\n"
        return out
    }

    /// Training FLOPs and wall seconds divided by those of a reference arm's run of the same
    /// seed and point (the baseline, `dense` and `han`, whichever the sweep holds): one table per
    /// cost, a column per reference, mean ratio with its 95% t-interval.
    static func costRatios(_ s: SweepRuns, baseline: String?, present: [String]) -> String {
        let axes = groupAxes(s), all = groups(s)
        let labels = Set(s.runs.map(\.label))
        var refs: [String] = []
        for r in [baseline, "dense", "han"].compactMap({ $0 }) where labels.contains(r) && !refs.contains(r) { refs.append(r) }
        guard !refs.isEmpty else { return "" }
        var out = ""
        for metric in ["train_flops", "wall_seconds"] where present.contains(metric) {
            out += "## \(metric) ÷ the same seed's reference run\n\n| "
            out += (axes.map(ComparisonReport.cell) + ["label"] + refs.map { "÷ \($0) (mean [95% CI])" }).joined(separator: " | ") + " |\n"
            out += "|" + Array(repeating: ":--|", count: axes.count + 1).joined() + refs.map { _ in "--:|" }.joined() + "\n"
            for g in all {
                let cells = refs.map { ref -> String in
                    guard let b = baselineGroup(of: g, in: all, axes: axes, baseline: ref) else { return "—" }
                    let base = sample(b, metric)
                    let r = sample(g, metric).compactMap { x in base.first { $0.seed == x.seed && $0.value > 0 }.map { x.value / $0.value }
                    }
                    guard !r.isEmpty else { return "—" }
                    let ci = interval(r).map { String(format: " [%.3f, %.3f]", $0.lo, $0.hi) } ?? ""
                    return String(format: "%.3fx", Statistics.mean(r)) + ci
                }
                out +=
                    "| " + (g.values.map(ComparisonReport.cell) + [ComparisonReport.cell(g.label)] + cells).joined(separator: " | ")
                    + " |\n"
            }
            out += "\n"
        }
        return out
    }
}

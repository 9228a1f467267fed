import Foundation

extension Aggregate {
    /// Axes whose key names a sparsity (`pruning.target_sparsity`): the x of a curve.
    static func sparsityAxes(_ s: SweepRuns) -> [String] {
        groupAxes(s).filter { ($0.split(separator: ".").last ?? "").contains("sparsity") }
    }

    /// `curve.csv` (nil without a sparsity axis): per method and requested sparsity, the
    /// achieved sparsity and test accuracy with its interval and its paired Δ vs the baseline,
    /// ordered by the other axes, the label, then the requested sparsity.
    static func curve(_ s: SweepRuns, baseline: String?) -> CSVTable? {
        let sparse = sparsityAxes(s)
        guard let x = sparse.first else { return nil }
        let axes = groupAxes(s), all = groups(s)
        let xi = axes.firstIndex(of: x)!
        let others = axes.indices.filter { !sparse.contains(axes[$0]) }
        var t = CSVTable(
            columns: others.map { axes[$0] } + [
                "label", "requested_sparsity", "n", "sparsity", "test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high",
                "delta_test_accuracy", "delta_ci_low", "delta_ci_high", "train_flops", "wall_seconds",
            ])
        let ordered = all.sorted { a, b in
            let ka = others.map { a.values[$0] } + [a.label], kb = others.map { b.values[$0] } + [b.label]
            if ka != kb { return ka.lexicographicallyPrecedes(kb) }
            return (Double(a.values[xi]) ?? 0) < (Double(b.values[xi]) ?? 0)
        }
        let opt = { (v: Double?) -> CSVValue in v.map(CSVValue.double) ?? .string("") }
        for g in ordered {
            let b = baselineGroup(of: g, in: all, axes: axes, baseline: baseline)
            let acc = stats(g, baseline: b, metric: "test_accuracy")
            let mean = { (m: String) in opt(stats(g, baseline: nil, metric: m).n > 0 ? stats(g, baseline: nil, metric: m).mean : nil) }
            t.append(
                others.map { .string(g.values[$0]) } + [.string(g.label), .string(g.values[xi]), .int(acc.n), mean("sparsity")]
                    + [opt(acc.n > 0 ? acc.mean : nil), opt(acc.ci?.lo), opt(acc.ci?.hi), opt(acc.delta), opt(acc.deltaCI?.lo)]
                    + [opt(acc.deltaCI?.hi), mean("train_flops"), mean("wall_seconds")])
        }
        return t
    }

    /// `aggregate.md`: one table per report metric, one line per group.
    static func markdown(_ s: SweepRuns, baseline: String?, title: String) -> String {
        let axes = groupAxes(s), all = groups(s), present = metrics(s)
        var out = "# \(title)\n\n\(s.runs.count) completed runs in \(all.count) groups"
        out += s.unfinished.isEmpty ? ".\n\n" : "; not complete (left out): \(s.unfinished.joined(separator: ", ")).\n\n"
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

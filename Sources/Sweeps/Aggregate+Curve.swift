import Experiments
import Foundation

/// Sparsity curves of a sweep: per method and requested sparsity, the achieved sparsity, the test
/// accuracy with its interval and its paired difference from the baseline, and the training
/// cost; `curve.csv`, the curve section of `aggregate.md` and the report's sweep figures all
/// read them from here.
extension Aggregate {
    /// How a group compares with its baseline: from the 95% interval of the paired differences.
    package enum Verdict: String, Sendable {
        /// The whole interval is above 0.
        case better
        /// The interval contains 0.
        case tie
        /// The whole interval is below 0.
        case worse

        package init?(_ ci: (lo: Double, hi: Double)?) {
            guard let ci else { return nil }
            self = ci.lo > 0 ? .better : ci.hi < 0 ? .worse : .tie
        }
    }

    /// One point of a curve: a group at one requested sparsity.
    package struct CurvePoint {
        /// The group's values on the axes other than the sparsity axes (`Curve.others`).
        package var others: [String]
        /// The values of `Curve.contexts`: what makes a panel (e.g. the data set), not the method.
        package var context: [String]
        package var label: String
        package var requested: String
        /// Test accuracy, with the paired differences from the baseline.
        package var accuracy: Stats
        package var sparsity: Stats
        package var trainFlops: Stats
        package var wallSeconds: Stats

        package var verdict: Verdict? { Verdict(accuracy.deltaCI) }
        package var requestedValue: Double { Double(requested) ?? .nan }
    }

    /// A sweep's curves, point by point.
    package struct Curve {
        /// The sparsity axis the curve runs along.
        package var axis: String
        /// The other axes, in plan order.
        package var others: [String]
        /// The axes among `others` that neither choose the method nor follow from it.
        package var contexts: [String]
        package var baseline: String?
        /// Ordered by the other axes, the label, then the requested sparsity.
        package var points: [CurvePoint]

        /// The points of one context value, by label in order of first appearance.
        package func series(context: [String]) -> [(label: String, points: [CurvePoint])] {
            var out: [(label: String, points: [CurvePoint])] = []
            for p in points where p.context == context {
                if let i = out.firstIndex(where: { $0.label == p.label }) { out[i].points.append(p) } else { out.append((p.label, [p])) }
            }
            return out
        }

        /// The distinct context values, in order of first appearance.
        package var contextValues: [[String]] {
            var out: [[String]] = []
            for p in points where !out.contains(p.context) { out.append(p.context) }
            return out
        }
    }

    /// Axes whose key names a sparsity (`pruning.target_sparsity`): the x of a curve.
    package static func sparsityAxes(_ s: SweepRuns) -> [String] { groupAxes(s).filter(isSparsityAxis) }

    package static func isSparsityAxis(_ key: String) -> Bool { (key.split(separator: ".").last ?? "").contains("sparsity") }

    /// Indices of `axes` a group must share with its baseline: every sparsity axis, and every
    /// other axis that neither chooses the method nor follows from the method and the sparsity
    /// (its value varies between groups of one label at one sparsity; `training.epochs` zipped
    /// with `arm`, or with `arm` and the sparsity to give each method its own budget, follows).
    package static func contextAxes(_ all: [Group], axes: [String]) -> [Int] {
        let sparse = axes.indices.filter { isSparsityAxis(axes[$0]) }
        let byKey = Dictionary(grouping: all, by: { g in [g.label] + sparse.map { g.values[$0] } }).values
        return axes.indices.filter { i in
            !methodAxes.contains(axes[i])
                && (sparse.contains(i) || !byKey.allSatisfy { Set($0.map { $0.values[i] }).count == 1 })
        }
    }

    /// The curve along the first sparsity axis (nil without one).
    package static func curveData(_ s: SweepRuns, baseline: String?) -> Curve? {
        let sparse = sparsityAxes(s)
        guard let x = sparse.first else { return nil }
        let axes = groupAxes(s), all = groups(s)
        let xi = axes.firstIndex(of: x)!
        let others = axes.indices.filter { !sparse.contains(axes[$0]) }
        let contexts = contextAxes(all, axes: axes).filter { others.contains($0) }
        let ordered = all.sorted { a, b in
            let ka = others.map { a.values[$0] } + [a.label], kb = others.map { b.values[$0] } + [b.label]
            if ka != kb { return ka.lexicographicallyPrecedes(kb) }
            return (Double(a.values[xi]) ?? 0) < (Double(b.values[xi]) ?? 0)
        }
        let points = ordered.map { g in
            CurvePoint(
                others: others.map { g.values[$0] }, context: contexts.map { g.values[$0] }, label: g.label,
                requested: g.values[xi],
                accuracy: stats(g, baseline: baselineGroup(of: g, in: all, axes: axes, baseline: baseline), metric: "test_accuracy"),
                sparsity: stats(g, baseline: nil, metric: "sparsity"), trainFlops: stats(g, baseline: nil, metric: "train_flops"),
                wallSeconds: stats(g, baseline: nil, metric: "wall_seconds"))
        }
        return Curve(axis: x, others: others.map { axes[$0] }, contexts: contexts.map { axes[$0] }, baseline: baseline, points: points)
    }

    /// `curve.csv` (nil without a sparsity axis): one row per curve point, with the verdict of
    /// its paired difference from the baseline (`better`, `tie`, `worse`; empty without an
    /// interval).
    package static func curve(_ s: SweepRuns, baseline: String?) -> CSVTable? {
        guard let c = curveData(s, baseline: baseline) else { return nil }
        var t = CSVTable(
            columns: c.others + [
                "label", "requested_sparsity", "n", "sparsity", "test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high",
                "delta_test_accuracy", "delta_ci_low", "delta_ci_high", "train_flops", "wall_seconds", "verdict",
            ])
        let opt = { (v: Double?) -> CSVValue in v.map(CSVValue.double) ?? .string("") }
        let mean = { (st: Stats) in opt(st.n > 0 ? st.mean : nil) }
        for p in c.points {
            let acc = p.accuracy
            t.append(
                p.others.map(CSVValue.string) + [.string(p.label), .string(p.requested), .int(acc.n), mean(p.sparsity)]
                    + [mean(acc), opt(acc.ci?.lo), opt(acc.ci?.hi), opt(acc.delta), opt(acc.deltaCI?.lo)]
                    + [opt(acc.deltaCI?.hi), mean(p.trainFlops), mean(p.wallSeconds), .string(p.verdict?.rawValue ?? "")])
        }
        return t
    }

    /// The curve section of `aggregate.md`: per context, one line per method and requested
    /// sparsity (empty without a sparsity axis).
    package static func curveMarkdown(_ s: SweepRuns, baseline: String?) -> String {
        guard let c = curveData(s, baseline: baseline) else { return "" }
        let acc = ComparisonReport.NumberStyle(metric: "test_accuracy")
        let flops = ComparisonReport.NumberStyle(metric: "train_flops"), secs = ComparisonReport.NumberStyle(metric: "wall_seconds")
        let range = { (r: (lo: Double, hi: Double)?) in r.map { "[\(acc.format($0.lo)), \(acc.format($0.hi))]" } ?? "" }
        var out = "## Curve along \(c.axis)\n\n"
        for ctx in c.contextValues {
            if !c.contexts.isEmpty {
                out += "### " + zip(c.contexts, ctx).map { "\($0) = \($1)" }.joined(separator: ", ") + "\n\n"
            }
            out +=
                "| label | requested | achieved sparsity | n | test accuracy | 95% CI | Δ vs \(baseline ?? "—") | 95% CI of Δ | verdict |"
            out += " train GFLOP | wall s |\n|:--|--:|--:|--:|--:|--:|--:|--:|:--|--:|--:|\n"
            for (label, points) in c.series(context: ctx) {
                for p in points {
                    let a = p.accuracy
                    let delta = label == baseline ? "baseline" : a.delta.map { acc.format($0, signed: true) } ?? "—"
                    let cells = [
                        ComparisonReport.cell(label), p.requested, p.sparsity.n > 0 ? acc.format(p.sparsity.mean) : "—", String(a.n),
                        a.n > 0 ? acc.format(a.mean) : "—", range(a.ci), delta, range(a.deltaCI), p.verdict?.rawValue ?? "",
                        p.trainFlops.n > 0 ? flops.format(p.trainFlops.mean) : "—",
                        p.wallSeconds.n > 0 ? secs.format(p.wallSeconds.mean) : "—",
                    ]
                    out += "| " + cells.joined(separator: " | ") + " |\n"
                }
            }
            out += "\n"
        }
        return out
            + "verdict: better / worse when the whole 95% interval of the paired Δ lies above / below 0, tie when it contains 0 "
            + "(empty with fewer than two pairs).\n\n"
    }
}

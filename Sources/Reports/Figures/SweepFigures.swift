import Charts
import Experiments
import Foundation
import Sweeps

/// Figures of a sweep folder: test accuracy against sparsity per method with 95% interval bands
/// and the published reference points, the paired difference from each baseline against
/// sparsity, and accuracy against training FLOPs and wall time.
extension ReportFigures {
    /// A colour per label, the same in every sweep of the page (labels in order of first appearance).
    static func sweepColors(_ sweeps: [ReportSweep]) -> [String: String] {
        var labels: [String] = []
        for s in sweeps { for r in s.runs.runs where !labels.contains(r.label) { labels.append(r.label) } }
        let order = ReportSweep.baselines.filter(labels.contains) + labels.filter { !ReportSweep.baselines.contains($0) }
        // black and greys are the published points' colours
        let colors = Palette.colors.filter { !referenceColors.contains($0) && $0 != "#999999" }
        return Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, colors[$0 % colors.count]) })
    }

    /// Published points are drawn in greys and black, apart from the methods' colours.
    static let referenceColors = ["#000000", "#666666", "#AAAAAA"]

    /// The sparsity axis: spaced by log10 of the compression 1/(1 − s), so 0.9, 0.95 and 0.98
    /// are as far apart as 2x, 2x and 2.5x more compression; ticks at the requested sparsities.
    static func compression(_ s: Double) -> Double { -log10(max(1e-12, 1 - s)) }

    static func sparsityAxis(_ chart: inout Chart, requested: [Double], extra: [Double]) {
        let xs = (requested + extra).map(compression)
        guard let lo = xs.min(), let hi = xs.max() else { return }
        let pad = max(0.05, (hi - lo) * 0.06)
        chart.xDomain = (lo - pad, hi + pad)
        chart.xTickLabels = requested.map {
            (compression($0), ReportTables.fixed($0, $0 * 100 == ($0 * 100).rounded() ? 0 : 1, scale: 100) + "%")
        }
    }

    static func sweepFigures(_ input: ReportInput) -> [ReportFigure] {
        let colors = sweepColors(input.sweeps)
        return input.sweeps.flatMap { s -> [ReportFigure] in
            guard let curve = s.curves.first else { return [] }
            return [sweepAccuracy(s, curve, colors), sweepDelta(s, colors), sweepCost(s, curve, colors)].compactMap { $0 }
        }
    }

    /// Per context value of the curve: the label's points in order of achieved sparsity.
    static func panels(_ curve: Aggregate.Curve) -> [(title: String, series: [(label: String, points: [Aggregate.CurvePoint])])] {
        curve.contextValues.map { ctx in
            let title = zip(curve.contexts, ctx).map { "\($0) = \($1)" }.joined(separator: ", ")
            return (title, curve.series(context: ctx).map { ($0.label, $0.points.sorted { $0.sparsity.mean < $1.sparsity.mean }) })
        }
    }

    static func requested(_ curve: Aggregate.Curve) -> [Double] {
        Array(Set(curve.points.map(\.requestedValue).filter(\.isFinite))).sorted()
    }

    static func sweepSource(_ s: ReportSweep) -> String {
        (s.archived
            ? "the \(s.runs.runs.count) rows of \(s.root.lastPathComponent)/\(SweepRuns.tableName) (the points' summary.csv)"
            : "the summary.csv of the \(s.runs.runs.count) completed points of \(s.root.lastPathComponent)")
            + (s.runs.unfinished.isEmpty ? "" : " (\(s.runs.unfinished.count) unfinished points left out)")
    }

    static func sweepAccuracy(_ s: ReportSweep, _ curve: Aggregate.Curve, _ colors: [String: String]) -> ReportFigure? {
        var charts: [Chart] = [], caption = ""
        for panel in panels(curve) {
            var c = Chart(x: AxisUnit(name: "achieved sparsity", unit: "log-spaced by 1/(1 − sparsity)"), y: .percent("test accuracy"))
            (c.width, c.height) = (540, 340)
            c.title = panel.title.isEmpty ? s.title : panel.title
            for (label, pts) in panel.series {
                let color = colors[label] ?? "#000000"
                let band = pts.map { p in
                    (
                        x: compression(p.sparsity.mean), mean: p.accuracy.mean * 100, lo: (p.accuracy.ci?.lo ?? .nan) * 100,
                        hi: (p.accuracy.ci?.hi ?? .nan) * 100
                    )
                }
                c.marks += lineMarks(band, color: color, band: pts.contains { $0.accuracy.ci != nil })
                c.marks.append(.dots(points: band.map { ($0.x, $0.mean) }, color: color, radius: 2.5))
                let n = Set(pts.map(\.accuracy.n)).sorted().map(String.init).joined(separator: "/")
                c.legend.append(LegendEntry(name: "\(label) (n = \(n))", color: color))
            }
            for (i, r) in s.references.enumerated() {
                let color = referenceColors[i % referenceColors.count]
                c.marks.append(.dots(points: [(compression(r.sparsity), r.accuracy * 100)], color: color, radius: 5, cross: true))
                c.legend.append(LegendEntry(name: "\(r.source), published", color: color, swatch: .cross))
            }
            c.legend.append(LegendEntry(name: "95% t-interval over seeds", color: "#888888", swatch: .band))
            sparsityAxis(&c, requested: requested(curve), extra: s.references.map(\.sparsity))
            charts.append(c)
            // the zoom: the top percentage point, where the methods that keep their accuracy sit
            // (when the chart spans more than 3)
            let dots = c.marks.flatMap { m -> [Double] in
                if case .dots(let p, _, _, _) = m { return p.map(\.1) }
                return []
            }
            guard let top = dots.max(), let bottom = dots.min(), top - bottom > 3 else { continue }
            var z = c
            z.title = "zoom: the top percentage point"
            z.yDomain = (floor((top - 1) * 10) / 10, ceil((top + 0.15) * 10) / 10)
            charts.append(z)
        }
        caption =
            "Mean test accuracy over seeds against the mean achieved sparsity, per method, with the 95% Student-t interval "
            + "over seeds as a band, from \(sweepSource(s)); the same numbers as curve.csv of `prunelab aggregate`. "
            + "The x axis is spaced by log10 of 1/(1 − sparsity) and ticked at the requested sparsities."
        if charts.count > panels(curve).count { caption += " Zoom panels: the top percentage point of the chart before them." }
        if !s.references.isEmpty {
            caption +=
                " Crosses: published results for \(s.model) on \(s.dataset) (the papers' own numbers, not runs of this sweep): "
                + s.references.map {
                    "\($0.source) \(ReportTables.fixed($0.error, 2, scale: 100))% error at \(ReportTables.fixed($0.sparsity, 1, scale: 100))%"
                }
                .joined(separator: "; ") + "."
        }
        return ReportFigure(title: "Test accuracy against sparsity: \(s.title)", charts: charts, caption: caption)
    }

    static func sweepDelta(_ s: ReportSweep, _ colors: [String: String]) -> ReportFigure? {
        var charts: [Chart] = []
        for curve in s.curves {
            guard let baseline = curve.baseline else { continue }
            for panel in panels(curve) {
                var c = Chart(
                    x: AxisUnit(name: "achieved sparsity", unit: "log-spaced by 1/(1 − sparsity)"),
                    y: AxisUnit(name: "Δ test accuracy vs \(baseline)", unit: "percentage points"))
                (c.width, c.height) = (540, 340)
                c.title = (panel.title.isEmpty ? "" : panel.title + ": ") + "paired Δ vs \(baseline)"
                for (label, pts) in panel.series where label != baseline {
                    let color = colors[label] ?? "#000000"
                    let band = pts.compactMap { p -> (x: Double, mean: Double, lo: Double, hi: Double)? in
                        guard let d = p.accuracy.delta else { return nil }
                        return (
                            compression(p.sparsity.mean), d * 100, (p.accuracy.deltaCI?.lo ?? .nan) * 100,
                            (p.accuracy.deltaCI?.hi ?? .nan) * 100
                        )
                    }
                    guard !band.isEmpty else { continue }
                    c.marks += lineMarks(band, color: color, band: true)
                    c.marks.append(.dots(points: band.map { ($0.x, $0.mean) }, color: color, radius: 2.5))
                    c.legend.append(LegendEntry(name: label, color: color))
                }
                guard !c.marks.isEmpty else { continue }
                sparsityAxis(&c, requested: requested(curve), extra: [])
                let (lo, hi) = c.xDomain!
                c.marks.append(.line(points: [(lo, 0), (hi, 0)], color: "#444444", width: 1, dashed: true))
                charts.append(c)
            }
        }
        guard !charts.isEmpty else { return nil }
        return ReportFigure(
            title: "Paired difference from the baselines: \(s.title)", charts: charts,
            caption: "Mean over seeds of each method's test accuracy minus the baseline's on the same seed (same data, initial "
                + "weights and requested sparsity), with its 95% t-interval as a band, from \(sweepSource(s)). A band that lies "
                + "wholly above the dashed zero line is a win, wholly below a loss, across it a tie.")
    }

    static func sweepCost(_ s: ReportSweep, _ curve: Aggregate.Curve, _ colors: [String: String]) -> ReportFigure? {
        let metrics: [(name: String, get: (Aggregate.CurvePoint) -> Aggregate.Stats)] = [
            ("training FLOPs", { $0.trainFlops }), ("wall time", { $0.wallSeconds }),
        ]
        var charts: [Chart] = []
        for panel in panels(curve) {
            for (name, get) in metrics {
                let maximum = panel.series.flatMap { $0.points.map { get($0).mean } }.filter(\.isFinite).max() ?? 1
                let unit =
                    name == "wall time"
                    ? AxisUnit(name: "mean \(name) per run", unit: "s") : AxisUnit.flops("mean \(name) per run", maximum: maximum)
                var c = Chart(x: unit, y: .percent("test accuracy"))
                (c.width, c.height) = (540, 340)
                c.title = (panel.title.isEmpty ? "" : panel.title + ": ") + "accuracy against \(name)"
                for (label, pts) in panel.series {
                    let color = colors[label] ?? "#000000"
                    let p = pts.map { (get($0).mean * unit.factor, $0.accuracy.mean * 100) }.filter { $0.0.isFinite }.sorted { $0.0 < $1.0 }
                    guard !p.isEmpty else { continue }
                    c.marks += [
                        .line(points: p, color: color, width: 1.4, dashed: false, opacity: 0.7), .dots(points: p, color: color, radius: 3),
                    ]
                    c.legend.append(LegendEntry(name: label, color: color))
                }
                guard !c.marks.isEmpty else { continue }
                charts.append(c)
            }
        }
        guard !charts.isEmpty else { return nil }
        return ReportFigure(
            title: "Accuracy against training cost: \(s.title)", charts: charts,
            caption: "One dot per method and requested sparsity: mean test accuracy against the mean training FLOPs (train_flops; "
                + "a multiply-add counts 2; Han's retraining included) and the mean wall time (wall_seconds: training, pruning "
                + "checks and evaluations) per run, from \(sweepSource(s)). Lines join a method's sparsities. Wall times are "
                + "those of the machine and load the sweep ran on (its points ran side by side).")
    }
}

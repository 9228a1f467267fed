import Charts
import Experiments
import Foundation
import Sweeps

/// Figures over training time: test accuracy against steps and FLOPs, sparsity, mask churn.
extension ReportFigures {
    typealias Band = [(x: Double, mean: Double, lo: Double, hi: Double)]
    /// The size of a figure's single full-width chart, in px.
    static let wideWidth = 1100.0, wideHeight = 380.0

    /// Han's pruning moments as rules: "R1" at the end of dense training, "Rk" after round k-1's
    /// retraining (from the first Han group's first run).
    static func hanRules(_ groups: [ReportGroup], x: (Int) -> Double? = { Double($0) }) -> [Mark] {
        guard let han = groups.first(where: { $0.first.method == "han" })?.first else { return [] }
        return han.roundSteps.dropLast().enumerated().compactMap { i, s in x(s).map { Mark.rule(x: $0, label: "R\(i + 1)") } }
    }

    static func accuracyVsStep(_ input: ReportInput) -> ReportFigure? {
        let groups = input.groups.filter { !$0.first.metric("test", "accuracy").isEmpty }
        guard !groups.isEmpty else { return nil }
        let bands: [Band] = groups.map { g in
            SeedAggregate.band(g.runs.map { r in r.metric("test", "accuracy").map { (Double($0.step), $0.value * 100) } })
        }
        var chart = Chart(x: .steps, y: .percent("test accuracy"), legend: groupLegend(groups))
        (chart.width, chart.height) = (wideWidth, wideHeight)
        chart.marks = zip(groups, bands).flatMap { g, b in lineMarks(b, color: g.color, band: g.runs.count > 1) } + hanRules(groups)
        let floorValue = clippedFloor(bands)
        if let f = floorValue { chart.yDomain = LinearScale.nice(f, bands.flatMap { $0.map(\.hi) }.max() ?? 100) }
        var caption = "Test accuracy at each evaluation, from \(sources(input, groups, "metrics.csv")) (rows split=test, metric=accuracy)."
        if groups.contains(where: { $0.first.method == "han" }) {
            caption += " Dashed rules R1, R2, ...: Han's pruning rounds (end of dense training and of each retraining, from rounds.csv)."
        }
        if floorValue != nil { caption += " The y axis starts above the first evaluations' accuracy, which lie below it." }
        var charts = [chart]
        if let z = topZoom(chart, bands) {
            charts.append(z)
            caption += " Second panel: the top 1.2 percentage points, where the best arms finish."
        }
        return ReportFigure(title: "Test accuracy during training", charts: charts, caption: caption)
    }

    /// `chart` zoomed to the 1.2 percentage points below the best final mean accuracy (nil for one
    /// arm, or when the full chart already spans less than 3 points).
    static func topZoom(_ chart: Chart, _ bands: [Band]) -> Chart? {
        guard bands.count > 1, let best = bands.compactMap({ $0.last?.mean }).max(), let d = chart.yDomain, d.1 - d.0 > 3 else {
            return nil
        }
        var z = chart
        z.yDomain = (floor((best - 1.2) * 10) / 10, ceil((best + 0.2) * 10) / 10)
        z.height = 300
        return z
    }

    static func accuracyVsFlops(_ input: ReportInput) -> ReportFigure? {
        var used: [ReportGroup] = [], bands: [Band] = [], measured = true
        for g in input.groups {
            var accs: [[(Double, Double)]] = [], flops: [[(Double, Double)]] = []
            for r in g.runs {
                let acc = r.metric("test", "accuracy")
                guard !acc.isEmpty, let f = r.cumulativeFlops(at: acc.map(\.step)) else { continue }
                measured = measured && f.measured
                accs.append(acc.map { (Double($0.step), $0.value * 100) })
                flops.append(zip(acc, f.values).map { (Double($0.step), $1) })
            }
            guard !accs.isEmpty else { continue }
            let a = SeedAggregate.band(accs),
                f = Dictionary(SeedAggregate.band(flops).map { ($0.x, $0.mean) }, uniquingKeysWith: { x, _ in x })
            bands.append(a.compactMap { p in f[p.x].map { (x: $0, mean: p.mean, lo: p.lo, hi: p.hi) } })
            used.append(g)
        }
        guard !used.isEmpty else { return nil }
        let maxFlops = bands.flatMap { $0.map(\.x) }.max() ?? 1
        let unit = AxisUnit.flops("cumulative training FLOPs", maximum: maxFlops)
        let scaled: [Band] = bands.map { $0.map { (x: $0.x * unit.factor, mean: $0.mean, lo: $0.lo, hi: $0.hi) } }
        var chart = Chart(x: unit, y: .percent("test accuracy"), legend: groupLegend(used))
        (chart.width, chart.height) = (wideWidth, wideHeight)
        chart.marks = zip(used, scaled).flatMap { g, b in lineMarks(b, color: g.color, band: g.runs.count > 1) }
        if let f = clippedFloor(scaled) { chart.yDomain = LinearScale.nice(f, scaled.flatMap { $0.map(\.hi) }.max() ?? 100) }
        let how =
            measured
            ? "FLOPs from metrics.csv's train_flops column."
            : "FLOPs estimated from summary.csv (train_flops, dense_train_flops) with a step's cost linear in the fraction of live weights, "
                + "whose schedule comes from the sparsity sources of the next figure; metrics.csv has no train_flops column."
        return ReportFigure(
            title: "Test accuracy against training cost", charts: [chart],
            caption: "Test accuracy from \(sources(input, used, "metrics.csv")) against the training FLOPs spent up to each evaluation "
                + "(a multiply-add counts 2). \(how)")
    }

    /// The layers of the groups' first runs, in model order.
    static func layerNames(_ groups: [ReportGroup]) -> [String] {
        var names: [String] = []
        for g in groups { for l in g.first.layerWeights.map(\.layer) where !names.contains(l) { names.append(l) } }
        return names
    }

    static func layerSparsity(_ input: ReportInput) -> ReportFigure? {
        let groups = input.groups.filter { !$0.first.layerWeights.isEmpty }
        let layers = layerNames(groups)
        guard !layers.isEmpty else { return nil }
        let series = groups.map { $0.first.layerSparsity() }
        let charts = layers.prefix(6).map { layer in
            let merged = mergeIdentical(zip(groups, series).compactMap { g, s in s.series[layer].map { (g, $0) } })
            var c = Chart(x: .steps, y: .percent("sparsity"), legend: merged.map { LegendEntry(name: $0.name, color: $0.color) })
            c.title = layer
            c.width = 370
            c.yDomain = (0, 100)
            c.marks =
                merged.map {
                    Mark.line(
                        points: stepShape($0.points).map { ($0.0, $0.1 * 100) }, color: $0.color, width: 1.8, dashed: false, opacity: 0.85)
                } + hanRules(groups)
            return c
        }
        let from = zip(groups, series).map { "\($0.label): \(input.display($0.first.folder)) (\($1.source))" }
        return ReportFigure(
            title: "Sparsity per layer during training", charts: Array(charts),
            caption: "Fraction of each layer's weights that are zero, seed \(groups[0].first.seed) of each arm. Sources: "
                + from.joined(separator: "; ") + " (layer-trajectories.csv: every record; events.csv: every pruning check; "
                + "rounds.csv: every Han round).")
    }

    /// Arms whose series are identical (the same schedule), merged into one entry named after all
    /// of them and drawn in the first one's colour.
    static func mergeIdentical(_ series: [(ReportGroup, [(Double, Double)])]) -> [(name: String, color: String, points: [(Double, Double)])]
    {
        var out: [(name: String, color: String, points: [(Double, Double)])] = []
        for (g, p) in series {
            if let k = out.firstIndex(where: { $0.points.elementsEqual(p, by: { $0 == $1 }) }) {
                out[k].name += ", \(g.label)"
            } else {
                out.append((g.label, g.color, p))
            }
        }
        return out
    }

    /// Points drawn as a step function (each value held until the next point).
    static func stepShape(_ p: [(Double, Double)]) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for (i, pt) in p.enumerated() {
            if i > 0 { out.append((pt.0, p[i - 1].1)) }
            out.append(pt)
        }
        return out
    }
}

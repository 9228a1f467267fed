import Charts
import Experiments
import Foundation
import Sweeps

/// Accuracy against sparsity without retraining (`prune-curve.csv`), full range and two zooms.
extension ReportFigures {
    /// The zoom ranges of the carvnocar course project's VGG study, in % sparsity.
    static let curveZooms: [(Double, Double)] = [(80, 90), (90, 95)]

    /// The curves of a run's `prune-curve.csv`, keyed and ordered: "layer-wise", "global",
    /// "<layer> alone"; points (sparsity %, accuracy %).
    static func curves(_ run: ReportRun) -> [(name: String, points: [(Double, Double)])] {
        guard let c = run.curve, let scope = try? c.strings("scope"), let layer = try? c.strings("layer"),
            let s = try? c.numbers("sparsity"), let a = try? c.numbers("test_accuracy")
        else { return [] }
        var out: [(name: String, points: [(Double, Double)])] = []
        for i in s.indices {
            let name = scope[i] == "layer" ? "layer-wise" : scope[i] == "global" ? "global" : "\(layer[i]) alone"
            if let k = out.firstIndex(where: { $0.name == name }) {
                out[k].points.append((s[i] * 100, a[i] * 100))
            } else {
                out.append((name, [(s[i] * 100, a[i] * 100)]))
            }
        }
        return out
    }

    static func pruneCurve(_ input: ReportInput, _ g: ReportGroup) -> ReportFigure? {
        let perRun = g.runs.map(curves).filter { !$0.isEmpty }
        guard let names = perRun.first?.map(\.name) else { return nil }
        let bands: [Band] = names.map { n in SeedAggregate.band(perRun.compactMap { $0.first { $0.name == n }?.points }) }
        let legend = names.enumerated().map { i, n in LegendEntry(name: n, color: Palette.color(i), swatch: i < 2 ? .line : .dashed) }
        func chart(_ range: (Double, Double)?) -> Chart {
            var c = Chart(x: .percent("sparsity"), y: .percent("test accuracy without retraining"), legend: legend)
            c.width = 370
            c.title = range.map { "zoom \(Int($0.0))-\(Int($0.1))%" } ?? "0-100%"
            c.xDomain = range ?? (0, 100)
            let inRange = bands.map { b in b.filter { p in range.map { p.x >= $0.0 - 1e-9 && p.x <= $0.1 + 1e-9 } ?? true } }
            let ys = inRange.flatMap { $0.flatMap { [$0.lo, $0.hi] } }
            if let lo = ys.min(), let hi = ys.max() { c.yDomain = LinearScale.nice(lo, hi) }
            c.marks = inRange.enumerated().flatMap { i, b in
                (perRun.count > 1 ? [Mark.band(points: b.map { ($0.x, $0.lo, $0.hi) }, color: Palette.color(i))] : [])
                    + [Mark.line(points: b.map { ($0.x, $0.mean) }, color: Palette.color(i), width: 1.6, dashed: i >= 2)]
            }
            return c
        }
        let seeds = perRun.count > 1 ? "mean of \(perRun.count) seeds (band: min-max)" : "seed \(g.first.seed)"
        return ReportFigure(
            title: "\(g.label): accuracy against sparsity without retraining", charts: [chart(nil)] + curveZooms.map { chart($0) },
            caption: "Test accuracy after magnitude pruning the trained model to each sparsity, without retraining: every layer to "
                + "that sparsity (layer-wise), the pooled weights (global), or one layer alone with the others untouched; \(seeds). "
                + "Zoom panels: 80-90% and 90-95%, as in the carvnocar course's VGG study. From \(input.source("prune-curve.csv", in: g)).")
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// Mask churn: how many mask entries changed between records (or pruning checks), per layer.
extension ReportFigures {
    /// Per layer, (step, changed entries in % of the layer's weights) and the file it came from:
    /// `layer-trajectories.csv`'s `mask_churn` (since the previous record), else `events.csv`'s
    /// `pruned` (at each check; masks only shrink there). Nil without either file.
    static func churn(_ run: ReportRun) -> (series: [String: [(Double, Double)]], source: String)? {
        let weights = Dictionary(run.layerWeights.map { ($0.layer, $0.weights) }, uniquingKeysWith: { a, _ in a })
        let table: ReportTable, column: String, source: String
        if let t = run.layerTrajectories, t.has("mask_churn") {
            (table, column, source) = (t, "mask_churn", TrajectoryRecorder.layersFile)
        } else if let e = run.events, e.has("pruned", "layer", "step") {
            (table, column, source) = (e, "pruned", "events.csv")
        } else {
            return nil
        }
        guard let steps = try? table.numbers("step"), let layers = try? table.strings("layer"), let values = try? table.numbers(column)
        else {
            return nil
        }
        var out: [String: [(Double, Double)]] = [:]
        for i in steps.indices {
            guard let w = weights[layers[i]], w > 0 else { continue }
            out[layers[i], default: []].append((steps[i], values[i] / w * 100))
        }
        return (out, source)
    }

    static func maskChurn(_ input: ReportInput) -> ReportFigure? {
        let pairs = input.groups.compactMap { g in churn(g.first).map { (g, $0) } }
            .filter { $0.1.series.values.contains { $0.contains { $0.1 > 0 } } }
        guard !pairs.isEmpty else { return nil }
        let layers = layerNames(pairs.map(\.0))
        let charts = layers.prefix(6).map { layer in
            let merged = mergeIdentical(pairs.compactMap { g, s in s.series[layer].map { (g, $0.filter { $0.1 > 0 }) } })
            var c = Chart(x: .steps, y: AxisUnit(name: "mask entries changed", unit: "% of layer"))
            c.legend = merged.map { LegendEntry(name: $0.name, color: $0.color, swatch: .dot) }
            c.title = layer
            c.width = 370
            c.marks = merged.map { Mark.dots(points: $0.points, color: $0.color, radius: 2.5) } + hanRules(pairs.map(\.0))
            let top = pairs.compactMap { $0.1.series[layer]?.map(\.1).max() }.max() ?? 1
            c.yDomain = LinearScale.nice(0, top)
            c.xDomain = (0, pairs.compactMap { $0.0.first.number("steps") }.max() ?? 1)
            return c
        }
        let from = pairs.map { "\($0.0.label): \(input.display($0.0.first.folder.appendingPathComponent($0.1.source)))" }
        return ReportFigure(
            title: "Mask churn", charts: Array(charts),
            caption: "Mask entries that changed, in % of the layer's weights, seed \(pairs[0].0.first.seed) of each arm; records with "
                + "no change are not drawn. layer-trajectories.csv counts changes since the previous trajectory record, events.csv the "
                + "weights pruned at each check. Sources: " + from.joined(separator: "; ") + ".")
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// Sampled weights' trajectories coloured by fate, and the shape (R², straightness) of pruned
/// against kept weights, from one run's `trajectories.csv`.
extension ReportFigures {
    static let keptColor = "#0072B2"
    static let prunedColors = ["#D55E00", "#E69F00", "#CC79A7", "#009E73", "#56B4E9", "#000000"]
    /// Records in the window before a pruning decision over which R² and straightness are taken.
    static let shapeWindow = 20
    static let shownPruned = 8, shownKept = 6

    /// The fate category of a weight pruned at `step`: Han's round, or the run's criterion.
    static func fate(_ run: ReportRun, prunedAt step: Double) -> String {
        if run.method == "han" {
            let rounds = run.roundSteps.dropLast()
            let k = rounds.lastIndex { Double($0) <= step }.map { $0 + 1 } ?? 1
            return "pruned in Han round \(k) (magnitude)"
        }
        let c = run.summary["criterion"].flatMap { $0.isEmpty ? nil : $0 } ?? run.method
        return "pruned by \(c)"
    }

    /// `count` elements of `xs` spread evenly over it (all when it has fewer).
    static func spread<T>(_ xs: [T], _ count: Int) -> [T] {
        guard xs.count > count, count > 0 else { return xs }
        return (0..<count).map { xs[$0 * (xs.count - 1) / max(1, count - 1)] }
    }

    static func trajectories(_ input: ReportInput, _ g: ReportGroup) -> ReportFigure? {
        guard let table = g.first.trajectories, let all = try? WeightHistory.all(table), all.contains(where: { $0.prunedRecord != nil })
        else { return nil }
        var fates: [String] = []
        for h in all {
            if let p = h.prunedRecord { let f = fate(g.first, prunedAt: h.steps[p]); if !fates.contains(f) { fates.append(f) } }
        }
        fates.sort()
        func color(_ f: String) -> String { prunedColors[(fates.firstIndex(of: f) ?? 0) % prunedColors.count] }
        let layers = all.reduce(into: [String]()) { if !$0.contains($1.layer) { $0.append($1.layer) } }
        let charts = layers.prefix(3).map { layer -> Chart in
            let ws = all.filter { $0.layer == layer }
            let pruned = spread(ws.filter { $0.prunedRecord != nil }.sorted { $0.prunedRecord! < $1.prunedRecord! }, shownPruned)
            let kept = spread(ws.filter { $0.prunedRecord == nil }, shownKept)
            var c = Chart(x: .steps, y: AxisUnit(name: "weight value", unit: ""))
            c.title = "\(layer): \(pruned.count) pruned, \(kept.count) kept of \(ws.count) sampled"
            c.width = 370
            c.marks = kept.map { .line(points: Array(zip($0.steps, $0.values)), color: keptColor, width: 1.2, dashed: false, opacity: 0.7) }
            for h in pruned {
                let p = h.prunedRecord!, f = fate(g.first, prunedAt: h.steps[p]), col = color(f)
                c.marks.append(
                    .line(
                        points: Array(zip(h.steps[..<max(p, 1)], h.values[..<max(p, 1)])), color: col, width: 1.2, dashed: false,
                        opacity: 0.8))
                c.marks.append(.dots(points: [(h.steps[p], h.values[max(p - 1, 0)])], color: col, radius: 4, cross: true))
            }
            c.legend =
                [LegendEntry(name: "kept", color: keptColor)] + fates.map { LegendEntry(name: $0, color: color($0)) }
                + [LegendEntry(name: "pruning moment", color: "#444444", swatch: .cross)]
            return c
        }
        return ReportFigure(
            title: "\(g.label): sampled weight trajectories by fate", charts: Array(charts),
            caption: "Values of sampled weights (stratified by initial |w|) at each trajectory record, seed \(g.first.seed): up to "
                + "\(shownPruned) pruned weights spread over pruning time and \(shownKept) kept ones per layer. A line ends at the "
                + "last record before the weight was masked; × marks the first record at which it was masked, at its last value. "
                + "From \(input.display(g.first.folder.appendingPathComponent(TrajectoryRecorder.samplesFile))).")
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// The distribution of R² and straightness of pruned against kept weights before pruning.
extension ReportFigures {
    /// Per sampled weight: (pruned?, R², straightness) over the `shapeWindow` records before it
    /// was masked; a kept weight over the window ending at its layer's median pruning record (the
    /// time the decisions were made), or at the last record when its layer pruned no sample.
    static func shapes(_ all: [WeightHistory]) -> [(pruned: Bool, r2: Double, straightness: Double)] {
        var medianRecord: [String: Int] = [:]
        for layer in Set(all.map(\.layer)) {
            let p = all.filter { $0.layer == layer }.compactMap(\.prunedRecord).sorted()
            if !p.isEmpty { medianRecord[layer] = p[p.count / 2] }
        }
        return all.compactMap { h in
            let end = h.prunedRecord ?? medianRecord[h.layer] ?? h.values.count
            return h.shape(max(0, end - shapeWindow)..<end).map { (h.prunedRecord != nil, $0.r2, $0.straightness) }
        }
    }

    /// A histogram of `xs` over [0, 1] in `bins` bins, as step-line points (x, % of xs).
    static func histogram(_ xs: [Double], bins: Int = 10) -> [(Double, Double)] {
        guard !xs.isEmpty else { return [] }
        var counts = [Double](repeating: 0, count: bins)
        for x in xs { counts[min(bins - 1, max(0, Int(x * Double(bins))))] += 1 }
        var pts: [(Double, Double)] = []
        for (i, c) in counts.enumerated() {
            let v = c / Double(xs.count) * 100
            pts += [(Double(i) / Double(bins), v), (Double(i + 1) / Double(bins), v)]
        }
        return pts
    }

    static func straightness(_ input: ReportInput, _ g: ReportGroup) -> ReportFigure? {
        guard let table = g.first.trajectories, let all = try? WeightHistory.all(table) else { return nil }
        let s = shapes(all)
        let pruned = s.filter(\.pruned), kept = s.filter { !$0.pruned }
        guard !pruned.isEmpty, !kept.isEmpty else { return nil }
        let legend = [
            LegendEntry(name: "pruned (\(pruned.count) weights)", color: prunedColors[0]),
            LegendEntry(name: "kept (\(kept.count) weights)", color: keptColor, swatch: .dashed),
        ]
        func chart(_ name: String, _ value: KeyPath<(pruned: Bool, r2: Double, straightness: Double), Double>) -> Chart {
            var c = Chart(x: AxisUnit(name: name, unit: ""), y: AxisUnit(name: "share of weights", unit: "%"), legend: legend)
            c.width = 370
            c.xDomain = (0, 1)
            c.marks = [
                .line(points: histogram(pruned.map { $0[keyPath: value] }), color: prunedColors[0], width: 2, dashed: false, opacity: 1),
                .line(points: histogram(kept.map { $0[keyPath: value] }), color: keptColor, width: 2, dashed: true, opacity: 1),
            ]
            return c
        }
        return ReportFigure(
            title: "\(g.label): shape of pruned and kept weights' trajectories",
            charts: [chart("R² of a straight-line fit", \.r2), chart("straightness |net move| / path length", \.straightness)],
            caption: "Histograms (10 bins) over the sampled weights of all layers, seed \(g.first.seed), of the R² of a least-squares "
                + "line through the last \(shapeWindow) records before a weight was masked, and of its straightness over them; "
                + "kept weights over the \(shapeWindow) records ending at their layer's median pruning record. From "
                + "\(input.display(g.first.folder.appendingPathComponent(TrajectoryRecorder.samplesFile))).")
    }
}

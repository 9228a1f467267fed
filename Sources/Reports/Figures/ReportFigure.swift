import Charts
import Experiments
import Foundation
import Sweeps

/// One figure of the report: a title, one or more charts side by side, and a caption that
/// names the files the data came from.
struct ReportFigure {
    var title: String
    var charts: [Chart]
    var caption: String
}

/// Every figure the report can draw from what the input holds, in page order; a figure whose
/// data no run has is left out (the page's notes say which).
enum ReportFigures {
    static func all(_ input: ReportInput) -> (figures: [ReportFigure], notes: [String]) {
        var figures: [ReportFigure] = [], notes: [String] = []
        func add(_ f: ReportFigure?, missing: String) {
            if let f { figures.append(f) } else { notes.append(missing) }
        }
        figures += sweepFigures(input)
        let groups = input.groups
        if !groups.isEmpty {
            add(accuracyVsStep(input), missing: "No test accuracy over training: no run has metrics.csv.")
            add(accuracyVsFlops(input), missing: "No accuracy against training FLOPs: neither metrics.csv nor summary.csv has train_flops.")
            add(layerSparsity(input), missing: "No sparsity per layer: no run has layers.csv.")
            add(
                maskChurn(input),
                missing: "No mask churn: no run has layer-trajectories.csv or events.csv (record with recording.enabled=true).")
        }
        let curves = groups.filter { $0.runs.contains { $0.curve != nil } }.compactMap { pruneCurve(input, $0) }
        if curves.isEmpty && !groups.isEmpty {
            notes.append("No accuracy against sparsity without retraining: no run has prune-curve.csv (pruning.han.curve.enabled=true).")
        }
        figures += curves
        let traj = groups.filter { $0.first.trajectories != nil }
        for g in traj {
            if let f = trajectories(input, g) { figures.append(f) }
            if let f = straightness(input, g) { figures.append(f) }
        }
        if traj.isEmpty && !groups.isEmpty {
            notes.append("No weight trajectories: no run has trajectories.csv (record with recording.enabled=true).")
        }
        if !groups.isEmpty || input.comparison != nil {
            add(forest(input), missing: "No paired differences: they need at least two arms run on the same seeds.")
        }
        return (figures, notes)
    }

    /// A legend entry per group, as lines (with a band entry when a group has several seeds).
    static func groupLegend(_ groups: [ReportGroup]) -> [LegendEntry] {
        groups.map { LegendEntry(name: $0.runs.count > 1 ? "\($0.label) (mean of \($0.runs.count) seeds)" : $0.label, color: $0.color) }
            + (groups.contains { $0.runs.count > 1 } ? [LegendEntry(name: "min-max over seeds", color: "#888888", swatch: .band)] : [])
    }

    /// Line and band marks for aggregated points.
    static func lineMarks(_ points: [(x: Double, mean: Double, lo: Double, hi: Double)], color: String, band: Bool) -> [Mark] {
        (band ? [Mark.band(points: points.map { ($0.x, $0.lo, $0.hi) }, color: color)] : [])
            + [Mark.line(points: points.map { ($0.x, $0.mean) }, color: color)]
    }

    /// A lower y limit that skips the first steps' low accuracy: the smallest value after the
    /// first 15% of the x range, widened to a nice tick (nil when nothing is cut off).
    static func clippedFloor(_ points: [[(x: Double, mean: Double, lo: Double, hi: Double)]]) -> Double? {
        let all = points.flatMap { $0 }
        guard let xMax = all.map(\.x).max(), let yMin = all.map(\.lo).min() else { return nil }
        let late = all.filter { $0.x >= 0.15 * xMax }.map(\.lo)
        guard let floorValue = late.min(), floorValue > yMin else { return nil }
        let step = LinearScale.step(span: (all.map(\.hi).max() ?? 100) - floorValue, count: 5)
        return floor(floorValue / step) * step
    }

    /// A comma-separated list of the files a figure read, one entry per group.
    static func sources(_ input: ReportInput, _ groups: [ReportGroup], _ file: String) -> String {
        groups.map { input.source(file, in: $0) }.joined(separator: "; ")
    }
}

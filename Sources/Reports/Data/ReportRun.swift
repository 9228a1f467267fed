import Charts
import Experiments
import Foundation
import Sweeps

/// One run folder read for the report: its summary and whichever optional files it holds.
///
/// A run folder is a folder holding `summary.csv` (with one row) and `run.json`; the other
/// files are optional and each figure uses what is there (`metrics.csv`, `layers.csv`,
/// `rounds.csv`, `events.csv`, `prune-curve.csv`, `trajectories.csv`, `layer-trajectories.csv`).
struct ReportRun {
    let folder: URL
    let summary: [String: String]
    let metrics: ReportTable?
    let layers: ReportTable?
    let rounds: ReportTable?
    let events: ReportTable?
    let curve: ReportTable?
    let trajectories: ReportTable?
    let layerTrajectories: ReportTable?

    /// Whether `folder` looks like a run folder (summary.csv and run.json).
    static func isRunFolder(_ folder: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: folder.appendingPathComponent("summary.csv").path)
            && fm.fileExists(atPath: folder.appendingPathComponent("run.json").path)
    }

    init(folder: URL) throws {
        self.folder = folder
        func file(_ name: String) throws -> ReportTable? { try ReportTable.load(folder.appendingPathComponent(name)) }
        guard let s = try file("summary.csv")?.firstRow else { throw RunError("\(folder.path)/summary.csv: no data row") }
        summary = s
        metrics = try file("metrics.csv")
        layers = try file("layers.csv")
        rounds = try file("rounds.csv")
        events = try file("events.csv")
        curve = try file("prune-curve.csv")
        trajectories = try file(TrajectoryRecorder.samplesFile)
        layerTrajectories = try file(TrajectoryRecorder.layersFile)
    }

    /// The run's arm: the summary's `label` (e.g. `linear`, `snip/init`), else its `method`.
    var label: String {
        if let l = summary["label"], !l.isEmpty { return l }
        return summary["method"] ?? folder.lastPathComponent
    }

    var seed: Int { Int(summary["seed"] ?? "") ?? 0 }
    var method: String { summary["method"] ?? "" }

    /// A summary column as a number.
    func number(_ column: String) -> Double? { summary[column].flatMap(Double.init) }

    /// The path of `name` inside the run folder, relative to `base` when it lies under it.
    func relativePath(_ name: String, to base: URL) -> String {
        let full = folder.appendingPathComponent(name).standardizedFileURL.path
        let root = base.standardizedFileURL.path + "/"
        return full.hasPrefix(root) ? String(full.dropFirst(root.count)) : full
    }

    /// Size on disk of `name` in the run folder, in bytes (nil when absent).
    func fileSize(_ name: String) -> Int? {
        let attrs = try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)
        return (attrs?[.size] as? NSNumber)?.intValue
    }

    /// The step at which the run's training loop ended and each Han round's retraining ended:
    /// `[train end, round 1 end, ...]`, from `rounds.csv`'s `retrain_steps` and the summary's
    /// `steps` (empty for other methods).
    var roundSteps: [Int] {
        guard let rounds, let retrain = try? rounds.numbers("retrain_steps"), let total = number("steps") else { return [] }
        var step = Int(total) - retrain.reduce(0) { $0 + Int($1.isNaN ? 0 : $1) }
        var out = [step]
        for r in retrain {
            step += Int(r.isNaN ? 0 : r)
            out.append(step)
        }
        return out
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// A sweep folder given to `prunelab report` (it holds `sweep-plan.json`, or only the `runs.csv`
/// of an archived sweep whose run folders are gone): its completed runs and its sparsity curves
/// against each baseline it has (`han`, then `magnitude`, the in-training baseline), computed
/// by the same code as `prunelab aggregate`'s `curve.csv`.
struct ReportSweep {
    let root: URL
    let runs: SweepRuns
    /// Read from `runs.csv` (no plan, no run folders).
    let archived: Bool
    /// One curve per baseline present (first `han`, then `magnitude`); one without a baseline
    /// when neither ran. Empty without a sparsity axis.
    let curves: [Aggregate.Curve]
    /// The most common `model` and `dataset` of the runs' summaries.
    let model: String
    let dataset: String

    static let baselines = ["han", "magnitude"]

    static func isSweepFolder(_ url: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: url.appendingPathComponent(SweepPlan.fileName).path)
            || (fm.fileExists(atPath: url.appendingPathComponent(SweepRuns.tableName).path)
                && !fm.fileExists(atPath: url.appendingPathComponent("run.json").path))
    }

    init(root: URL) throws {
        self.root = root
        archived = !FileManager.default.fileExists(atPath: root.appendingPathComponent(SweepPlan.fileName).path)
        let runs =
            archived
            ? try SweepRuns.read(table: root.appendingPathComponent(SweepRuns.tableName)) : try SweepRuns.read(dir: root.path)
        let labels = Set(runs.runs.map(\.label))
        let present = Self.baselines.filter(labels.contains)
        let choices: [String?] = present.isEmpty ? [nil] : present
        self.runs = runs
        curves = choices.compactMap { Aggregate.curveData(runs, baseline: $0) }
        model = Self.mostCommon("model", in: runs)
        dataset = Self.mostCommon("dataset", in: runs)
    }

    static func mostCommon(_ column: String, in runs: SweepRuns) -> String {
        let counts = Dictionary(grouping: runs.runs.compactMap { $0.text(column) }, by: { $0 }).mapValues(\.count)
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
    }

    /// "lenet-300-100 on mnist (folder)".
    var title: String {
        let what = [model, dataset].filter { !$0.isEmpty }.joined(separator: " on ")
        return what.isEmpty ? root.lastPathComponent : "\(what) (\(root.lastPathComponent))"
    }

    var references: [LiteratureReference] { LiteratureReference.matching(model: model, dataset: dataset) }
}

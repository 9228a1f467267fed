import Experiments
import Foundation
import Training

/// Where each point of a sweep stands, read from its run folder (any backend).
public enum SweepStatus {
    /// A point's state: `done` (completed), `short` (completed, but its pruned layers ended
    /// more than `shortTolerance` below the target sparsity of its summary.csv), `diverged`
    /// (failed on a non-finite or exploding loss), `running` (a live process holds its folder),
    /// `failed` (failed otherwise, interrupted, or left `running` by a process that is gone),
    /// `missing` (no run yet).
    public enum State: String, Sendable, CaseIterable {
        case done, short, diverged, running, failed, missing

        /// Whether a finished sweep with a point in this state did not do what it was asked.
        public var needsAttention: Bool { self == .short || self == .diverged || self == .failed }
        /// Whether the point's run completed (its summary.csv is final).
        public var completed: Bool { self == .done || self == .short }
    }

    /// How far below its target a completed run may end and still be `done` (the run warns past it).
    public static let shortTolerance = 1e-3

    /// One point's state with a detail (`interrupted after step 55`, the error, ...).
    public struct Entry: Sendable {
        public var point: String
        public var state: State
        public var detail: String
    }

    /// The state of every point of the sweep in `dir`, in plan order.
    public static func read(dir: String) throws -> [Entry] {
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        return try SweepPlan.read(dir: url).points.map { entry($0.name, folder: url.appendingPathComponent($0.name, isDirectory: true)) }
    }

    static func entry(_ name: String, folder: URL) -> Entry {
        guard let info = try? RunInfo.read(from: folder.appendingPathComponent("run.json")) else {
            return Entry(point: name, state: .missing, detail: "")
        }
        switch info.status {
        case .completed:
            if let s = shortfall(folder) {
                return Entry(point: name, state: .short, detail: String(format: "reached sparsity %.4f of %.4f", s.reached, s.target))
            }
            return Entry(point: name, state: .done, detail: info.ended ?? "")
        case .running where RunFolder(path: folder.path).isHeldByLiveProcess():
            return Entry(point: name, state: .running, detail: "pid \(info.pid.map(String.init) ?? "unknown")")
        case .running:
            return Entry(point: name, state: .failed, detail: "stopped while running (process gone); re-run the sweep to resume")
        case .interrupted:
            return Entry(point: name, state: .failed, detail: "interrupted after step \(info.step.map(String.init) ?? "?")")
        case .failed where info.error?.hasPrefix(TrainingError.divergedPrefix) == true:
            return Entry(point: name, state: .diverged, detail: info.error ?? "")
        case .failed:
            return Entry(point: name, state: .failed, detail: info.error ?? "failed")
        }
    }

    /// A completed run's sparsity over its pruned weights (`pruned_sparsity`) and its target
    /// (`target_sparsity`, written by methods that have one), when it ended short of it.
    static func shortfall(_ folder: URL) -> (reached: Double, target: Double)? {
        guard let n = try? SummaryRow.numbers(in: folder), let target = n["target_sparsity"], let reached = n["pruned_sparsity"],
            target.isFinite, target - reached > shortTolerance
        else { return nil }
        return (reached, target)
    }

    /// The points a finished sweep must name: short (unless `allowShort`), diverged or failed
    /// in their folders, and those whose run failed before it wrote one (`failed`, from the
    /// sweep's report), in plan order.
    public static func attention(_ entries: [Entry], failed: [(name: String, error: String)] = [], allowShort: Bool) -> [Entry] {
        var out = entries.filter { $0.state.needsAttention && !(allowShort && $0.state == .short) }
        for f in failed where !out.contains(where: { $0.point == f.name }) {
            out.append(Entry(point: f.name, state: .failed, detail: f.error))
        }
        let order = Dictionary(entries.enumerated().map { ($1.point, $0) }) { a, _ in a }
        return out.sorted { (order[$0.point] ?? .max) < (order[$1.point] ?? .max) }
    }

    /// The one-line error of a sweep with points needing attention: how many of each state, the
    /// first point, and what to do.
    public static func attentionLine(_ points: [Entry]) -> String? {
        guard let first = points.first else { return nil }
        let kinds = State.allCases.compactMap { s in
            let n = points.filter { $0.state == s }.count
            return n > 0 ? "\(n) \(s.rawValue)" : nil
        }
        var line = "\(points.count) point(s) need attention (\(kinds.joined(separator: ", "))), first \(first.point): \(first.detail)"
        if points.contains(where: { $0.state == .short }) { line += "; --allow-short accepts points short of their target" }
        if points.contains(where: { $0.state != .short }) { line += "; re-run to retry failed points" }
        return line
    }

    /// `done 4, running 1, failed 0, missing 1`.
    public static func counts(_ entries: [Entry]) -> String {
        State.allCases.map { s in "\(s.rawValue) \(entries.filter { $0.state == s }.count)" }.joined(separator: ", ")
    }
}

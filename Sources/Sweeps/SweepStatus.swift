import Experiments
import Foundation

/// Where each point of a sweep stands, read from its run folder (any backend).
public enum SweepStatus {
    /// A point's state: `done` (completed), `running` (a live process holds its folder),
    /// `failed` (failed, interrupted, or left `running` by a process that is gone), `missing`
    /// (no run yet).
    public enum State: String, Sendable, CaseIterable {
        case done, running, failed, missing
    }

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
            return Entry(point: name, state: .done, detail: info.ended ?? "")
        case .running where RunFolder(path: folder.path).isHeldByLiveProcess():
            return Entry(point: name, state: .running, detail: "pid \(info.pid.map(String.init) ?? "unknown")")
        case .running:
            return Entry(point: name, state: .failed, detail: "stopped while running (process gone); re-run the sweep to resume")
        case .interrupted:
            return Entry(point: name, state: .failed, detail: "interrupted after step \(info.step.map(String.init) ?? "?")")
        case .failed:
            return Entry(point: name, state: .failed, detail: info.error ?? "failed")
        }
    }

    /// `done 4, running 1, failed 0, missing 1`.
    public static func counts(_ entries: [Entry]) -> String {
        State.allCases.map { s in "\(s.rawValue) \(entries.filter { $0.state == s }.count)" }.joined(separator: ", ")
    }
}

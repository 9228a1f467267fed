import Experiments
import Foundation

/// Runs one point into its folder, or leaves a finished one alone: the skip-and-resume rule of
/// sweeps and comparisons.
public enum PointRun {
    /// What `runOrReuse` did.
    public enum Action: String, Sendable {
        case ran, resumed, reused
    }

    /// Runs `config` into `dir`, unless the folder already holds it: a completed run of the same
    /// config is left as it is, an interrupted or failed one is resumed from its checkpoint.
    /// "Same config" ignores `training.threads` (a sweep re-run with another `--jobs` keeps the
    /// runs it has; each `config.json` records the threads it ran with). A folder holding
    /// another config is an error unless `force`, which re-runs it. `logLine` receives the
    /// run's progress lines (one per epoch, Han round, analysis series).
    @discardableResult
    public static func runOrReuse(
        _ config: ExperimentConfig, dir: String, force: Bool, progress: Bool = false, command: String,
        logLine: (@Sendable (String) -> Void)? = nil, warn: (String) -> Void = { _ in }
    ) throws -> Action {
        let folder = URL(fileURLWithPath: dir, isDirectory: true)
        var options = RunOptions(outDir: dir, force: force, progress: progress, command: command)
        options.logLine = logLine
        guard !force, let info = try? RunInfo.read(from: folder.appendingPathComponent("run.json")) else {
            try Runner.run(config, options: options).warnings.forEach(warn)
            return .ran
        }
        if let d = try differenceFromStoredConfig(config, folder: folder) {
            throw RunFolderError.holdsOtherConfig(path: dir, key: d.key, there: d.a, now: d.b)
        }
        switch info.status {
        case .completed:
            return .reused
        case .running where RunFolder(path: dir).isHeldByLiveProcess():
            throw RunError("\(dir): in use by another prunelab run (pid \(info.pid.map(String.init) ?? "unknown"))")
        default:
            try Runner.resume(dir: dir, options: options).warnings.forEach(warn)
            return .resumed
        }
    }

    /// A finished run's `summary.csv` numbers (empty when it cannot be read), for the log lines.
    static func headline(_ dir: String) -> [String: Double] {
        (try? SummaryRow.numbers(in: URL(fileURLWithPath: dir, isDirectory: true))) ?? [:]
    }

    /// Whether the folder's `config.json` is `config`, `training.threads` aside.
    static func holdsSameConfig(_ config: ExperimentConfig, folder: URL) throws -> Bool {
        try differenceFromStoredConfig(config, folder: folder) == nil
    }

    /// The first key at which the folder's `config.json` differs from `config` (`training.threads`
    /// aside), with the stored value first; nil when they are the same. An unreadable
    /// `config.json` differs at the key `config.json`.
    static func differenceFromStoredConfig(
        _ config: ExperimentConfig, folder: URL
    ) throws -> (key: String, a: String, b: String)? {
        let url = folder.appendingPathComponent("config.json")
        guard let stored = try? Data(contentsOf: url), let old = try? ConfigLoader.decode(stored) else {
            return ("config.json", "unreadable", "a valid config")
        }
        var mine = config
        mine.training.threads = old.training.threads
        let current = try ConfigLoader.canonicalJSON(mine)
        guard current != stored else { return nil }
        return try ConfigLoader.firstDifference(stored, current) ?? ("config.json", "other bytes", "canonical JSON")
    }
}

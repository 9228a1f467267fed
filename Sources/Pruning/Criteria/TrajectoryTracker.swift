import NN
import Schema
import TensorCore

/// Trajectory statistics kept for the pruned parameters, updated every `every` steps; shared
/// by the criteria that read weight trajectories (`linear`, `stalled`, `lrtime`).
///
/// `window` counts statistics updates (records, one every `every` steps): the statistics'
/// exponential window is `window * every` optimizer steps long, so a weight's fitted line
/// rests on about its last `window` records whatever `every` is. Slopes stay in value units
/// per optimizer step and horizons in optimizer steps.
public final class TrajectoryTracker {
    public let statistics: [TrajectoryStatistics]
    public let every: Int
    /// Effective window in records.
    public let window: Int
    public let horizon: Int
    let parameters: [Parameter]

    /// `window` counts records (one every `every` steps); `horizon` is in optimizer steps.
    public init(parameters: [Parameter], window: Int, every: Int, horizon: Int) {
        self.parameters = parameters
        self.every = max(1, every)
        self.window = window
        statistics = parameters.map {
            TrajectoryStatistics(count: $0.value.count, window: window * max(1, every), horizon: horizon)
        }
        self.horizon = horizon
    }

    /// Records seen so far (the same for every parameter).
    public var records: Int { statistics.first?.stepsSeen ?? 0 }

    /// The step of the latest record (0 before any).
    public var lastStep: Int { records == 0 ? 0 : statistics[0].lastStep }

    /// The window's fill: `records` of at least `needed`, full at `window`.
    public func trajectoryWindow(needed: Int) -> TrajectoryWindow {
        TrajectoryWindow(records: records, needed: needed, full: max(needed, window))
    }

    public func save(into archive: StateArchive, prefix: String) {
        for (i, s) in statistics.enumerated() { s.save(into: archive, prefix: "\(prefix)/\(i)") }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        for (i, s) in statistics.enumerated() { try s.restore(from: archive, prefix: "\(prefix)/\(i)") }
    }

    public func observe(step: Int) {
        guard step % every == 0 else { return }
        for (s, p) in zip(statistics, parameters) { s.update(p.value, mask: p.mask, step: step) }
    }
}

/// Checks the keys every trajectory criterion shares (`stats_every`, `window`) at `path`.
func validateWindow(statsEvery: Duration, window: Int, at path: String) throws {
    if statsEvery.amount <= 0 { throw ConfigError(path: child(path, "stats_every"), "must be positive, got \(statsEvery)") }
    if window < 1 { throw ConfigError(path: child(path, "window"), "must be >= 1, got \(window)") }
}

/// How many of `pruned` have `flag` set (the weights a check chose by their trajectory).
func countFlagged(_ flag: [Bool], _ pruned: [Int]) -> Int {
    pruned.reduce(0) { $0 + (flag[$1] ? 1 : 0) }
}

import NN
import Schema
import TensorCore

/// Trajectory statistics kept for the pruned parameters, updated every `every` steps; shared
/// by the criteria that read weight trajectories (`linear`, `stalled`).
public final class TrajectoryTracker {
    public let statistics: [TrajectoryStatistics]
    public let every: Int
    public let horizon: Int
    let parameters: [Parameter]

    /// `window` counts records (one every `every` steps); `horizon` is in optimizer steps.
    public init(parameters: [Parameter], window: Int, every: Int, horizon: Int) {
        self.parameters = parameters
        statistics = parameters.map { TrajectoryStatistics(count: $0.value.count, window: window, horizon: horizon) }
        self.every = max(1, every)
        self.horizon = horizon
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

import Foundation
import TensorCore

/// Where a run's seconds go, over every process of the run (checkpointed).
///
/// `wall` is the seconds since the run's training started, summed over the processes that ran
/// it (a resumed run continues from the value its checkpoint saved). Evaluations (the test set
/// in `metrics.csv`, Han's round evaluations, the final train/test evaluation) are counted in
/// `evalSeconds`; the method's analysis (Han's accuracy-vs-sparsity curve) in `analysisSeconds`.
/// Both are part of `wall`.
public final class RunClock {
    var previous = 0.0
    var started = Date()
    /// Seconds spent evaluating, over every process of the run.
    public private(set) var evalSeconds = 0.0
    /// Seconds spent in analysis that is not the method's cost, over every process of the run.
    public private(set) var analysisSeconds = 0.0

    public init() {}

    /// Starts counting this process's seconds on top of `previous` (from a checkpoint).
    func begin(previous: Double = 0) {
        self.previous = previous
        started = Date()
    }

    /// Seconds since the run started.
    public var wall: Double { previous + Date().timeIntervalSince(started) }

    /// Runs `body` and counts its time as evaluation.
    public func evaluation<T>(_ body: () throws -> T) rethrows -> T {
        let clock = Date()
        defer { evalSeconds += Date().timeIntervalSince(clock) }
        return try body()
    }

    /// Runs `body` and counts its time as analysis.
    public func analysis<T>(_ body: () throws -> T) rethrows -> T {
        let clock = Date()
        defer { analysisSeconds += Date().timeIntervalSince(clock) }
        return try body()
    }

    func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/wall_seconds", wall)
        archive.set("\(prefix)/analysis_seconds", analysisSeconds)
        archive.set("\(prefix)/eval_seconds", evalSeconds)
    }

    /// Restores the counters; a checkpoint written before `eval_seconds` existed counts 0 there.
    func restore(from archive: StateArchive, prefix: String) throws {
        analysisSeconds = try archive.double("\(prefix)/analysis_seconds")
        evalSeconds = archive.has("\(prefix)/eval_seconds") ? try archive.double("\(prefix)/eval_seconds") : 0
        previous = try archive.double("\(prefix)/wall_seconds")
    }
}

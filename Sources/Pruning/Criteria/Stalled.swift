import NN
import Schema
import TensorCore

/// Prune weights that have stopped moving: mean |update| below `fraction` of the layer's
/// median mean |update| (over unmasked weights) flags a weight; flagged weights score `|w|`,
/// the rest `|w| + max|w|`, so every flagged weight goes before any other. *Finished* (for the
/// `adaptive` schedule) is flagged: its updates stayed small over the whole window.
public final class StalledCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var statsEvery: Duration
        public var window: Int
        public var fraction: Double

        enum CodingKeys: String, CodingKey, CaseIterable { case statsEvery = "stats_every", window, fraction }

        public static let keyHelp: [(key: String, help: String)] = [
            ("stats_every", "update the trajectory statistics every this often (`10it`, `1ep`)"),
            ("window", "effective length of the exponential window, in statistics updates"),
            ("fraction", "stalled when the mean |update| is below this fraction of the layer's median"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
            window = try c.value(.window, default: 20)
            fraction = try c.value(.fraction, default: 0.1)
        }

        public func validate(at path: String) throws {
            try validateWindow(statsEvery: statsEvery, window: window, at: path)
            if !(fraction > 0) { throw ConfigError(path: child(path, "fraction"), "must be > 0, got \(fraction)") }
        }
    }

    public static let name = "stalled"
    public static let summary = "weights whose recent updates are small against the layer's median go first"
    public static let reportColumns = ["mean_abs_update"]
    public static let decidesFinished = true
    public static let scoresFromHistory = true
    public let tracker: TrajectoryTracker
    public let fraction: Float
    let parameters: [Parameter]

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        tracker = TrajectoryTracker(
            parameters: context.parameters, window: settings.window,
            every: settings.statsEvery.steps(perEpoch: context.stepsPerEpoch), horizon: 0)
        fraction = Float(settings.fraction)
    }

    public func observe(step: Int) { tracker.observe(step: step) }

    /// A mean |update| needs two records.
    public var trajectoryWindow: TrajectoryWindow? { tracker.trajectoryWindow(needed: 2) }

    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { countFlagged(stalled(index: index), pruned) }

    /// Whether each weight's mean |update| is below `fraction` of the live weights' median.
    func stalled(index: Int) -> [Bool] {
        let moves = tracker.statistics[index].meanAbsUpdate()
        let w = parameters[index].value.scalars
        let live = (0..<w.count).filter { w[$0] != 0 }.map { moves[$0] }.sorted()
        let median = live.isEmpty ? 0 : live[live.count / 2]
        return moves.map { $0 < fraction * median }
    }

    public func scores(index: Int) -> [Float] {
        let flag = stalled(index: index)
        let w = parameters[index].value.scalars
        let offset = w.reduce(Float(0)) { max($0, abs($1)) }
        return (0..<w.count).map { j in flag[j] ? abs(w[j]) : abs(w[j]) + offset }
    }

    public func finished(index: Int) -> [Bool]? {
        let w = parameters[index].value.scalars
        return zip(stalled(index: index), w).map { $0 && $1 != 0 }
    }

    /// The mean |update| per step over the window.
    public func statistics(index: Int) -> [(name: String, values: [Float])] {
        [("mean_abs_update", tracker.statistics[index].meanAbsUpdate())]
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        [meanAt(tracker.statistics[index].meanAbsUpdate(), pruned)]
    }

    public func save(into archive: StateArchive, prefix: String) { tracker.save(into: archive, prefix: prefix) }

    public func restore(from archive: StateArchive, prefix: String) throws { try tracker.restore(from: archive, prefix: prefix) }
}

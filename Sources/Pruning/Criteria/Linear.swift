import NN
import Schema
import TensorCore

/// The core idea: prune a weight whose recent trajectory is near-linear and predicts it small,
/// or across zero, before it gets there.
///
/// A weight is *flagged* when its trajectory is near-linear (`R^2 >= r2_threshold` or
/// straightness `|displacement| / path >= straightness_threshold`) and heads toward zero
/// (`|w + slope * H| < |w|`, H the horizon in steps). A flagged weight scores its predicted
/// magnitude `|w + slope * H|`, or 0 when the prediction crosses zero; any other weight scores
/// its current `|w|`. So this is magnitude pruning that trusts a straight trajectory's
/// destination over its present position: with no flagged weight it is plain magnitude order.
///
/// *Finished* (for the `adaptive` schedule): flagged, and the prediction crosses zero or lands
/// within `finish_tolerance` times the layer's mean live |w| of zero.
public final class LinearCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var statsEvery: Duration
        public var window: Int
        public var horizon: Duration
        public var r2Threshold: Double
        public var straightnessThreshold: Double
        public var finishTolerance: Double

        enum CodingKeys: String, CodingKey, CaseIterable {
            case statsEvery = "stats_every", window, horizon, r2Threshold = "r2_threshold"
            case straightnessThreshold = "straightness_threshold", finishTolerance = "finish_tolerance"
        }

        public static let keyHelp: [(key: String, help: String)] = [
            ("stats_every", "update the trajectory statistics every this often (`10it`, `1ep`)"),
            ("window", "effective length of the exponential window, in statistics updates"),
            ("horizon", "how far ahead the fitted line is extrapolated (`200it`, `1ep`)"),
            ("r2_threshold", "near-linear when R² of the fitted line is at least this (0-1) ..."),
            ("straightness_threshold", "... or when |displacement| / path length is at least this (0-1)"),
            (
                "finish_tolerance",
                "`adaptive` schedule: finished when the prediction is within this fraction of the layer's mean live |w| of zero"
            ),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
            window = try c.value(.window, default: 20)
            horizon = try c.value(.horizon, default: Duration(1, .epochs))
            r2Threshold = try c.value(.r2Threshold, default: 0.9)
            straightnessThreshold = try c.value(.straightnessThreshold, default: 0.9)
            finishTolerance = try c.value(.finishTolerance, default: 0.1)
        }

        public func validate(at path: String) throws {
            try validateWindow(statsEvery: statsEvery, window: window, at: path)
            for (k, v) in [("r2_threshold", r2Threshold), ("straightness_threshold", straightnessThreshold)] where !(v >= 0 && v <= 1) {
                throw ConfigError(path: child(path, k), "must be in [0, 1], got \(v)")
            }
            if !(finishTolerance >= 0) { throw ConfigError(path: child(path, "finish_tolerance"), "must be >= 0, got \(finishTolerance)") }
        }
    }

    public static let name = "linear"
    public static let summary = "|w| extrapolated along a near-linear trajectory (this project's idea)"
    public static let reportColumns = ["mean_r2", "mean_straightness"]
    public static let decidesFinished = true
    public let tracker: TrajectoryTracker
    public let r2Threshold: Float
    public let straightnessThreshold: Float
    let finishTolerance: Float
    let parameters: [Parameter]

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        tracker = TrajectoryTracker(
            parameters: context.parameters, window: settings.window,
            every: settings.statsEvery.steps(perEpoch: context.stepsPerEpoch),
            horizon: settings.horizon.steps(perEpoch: context.stepsPerEpoch))
        r2Threshold = Float(settings.r2Threshold)
        straightnessThreshold = Float(settings.straightnessThreshold)
        finishTolerance = Float(settings.finishTolerance)
    }

    public func observe(step: Int) { tracker.observe(step: step) }

    /// Which weights are flagged, and their predicted values at the horizon.
    public func flagged(index: Int) -> (flag: [Bool], predicted: [Float]) {
        let s = tracker.statistics[index]
        let r2 = s.rSquared(), straight = s.straightness(), predicted = s.extrapolated(horizon: tracker.horizon)
        let w = parameters[index].value.scalars
        var flag = [Bool](repeating: false, count: w.count)
        for j in 0..<w.count where w[j] != 0 {
            let linear = r2[j] >= r2Threshold || straight[j] >= straightnessThreshold
            flag[j] = linear && abs(predicted[j]) < abs(w[j])
        }
        return (flag, predicted)
    }

    public func scores(index: Int) -> [Float] {
        let (flag, predicted) = flagged(index: index)
        let w = parameters[index].value.scalars
        return (0..<w.count).map { j in
            guard flag[j] else { return abs(w[j]) }
            return (predicted[j] > 0) != (w[j] > 0) ? 0 : abs(predicted[j])
        }
    }

    public func finished(index: Int) -> [Bool]? {
        let (flag, predicted) = flagged(index: index)
        let w = parameters[index].value.scalars
        var sum: Float = 0, live = 0
        for x in w where x != 0 { sum += abs(x); live += 1 }
        let tolerance = live == 0 ? 0 : finishTolerance * sum / Float(live)
        return (0..<w.count).map { j in
            flag[j] && ((predicted[j] > 0) != (w[j] > 0) || abs(predicted[j]) <= tolerance)
        }
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        let s = tracker.statistics[index]
        return [meanAt(s.rSquared(), pruned), meanAt(s.straightness(), pruned)]
    }

    /// R² of the fitted line, straightness and the value predicted at the horizon.
    public func statistics(index: Int) -> [(name: String, values: [Float])] {
        let s = tracker.statistics[index]
        return [("r2", s.rSquared()), ("straightness", s.straightness()), ("predicted", s.extrapolated(horizon: tracker.horizon))]
    }

    public func save(into archive: StateArchive, prefix: String) { tracker.save(into: archive, prefix: prefix) }

    public func restore(from archive: StateArchive, prefix: String) throws { try tracker.restore(from: archive, prefix: prefix) }
}

import Foundation
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
///
/// `horizon` is a duration or `"end"`: the steps left until the planned end of training after
/// the latest record (a straight line in step time; `lrtime` follows the learning rate instead).
/// The line needs 3 records (R² is undefined before): until then a check prunes nothing.
public final class LinearCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var statsEvery: Duration
        public var window: Int
        public var horizon: Horizon
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
            ("horizon", "how far ahead the fitted line is extrapolated (`200it`, `1ep`, or `end`: to the end of training)"),
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
            horizon = try c.value(.horizon, default: .fixed(Duration(1, .epochs)))
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
    public static let scoresFromHistory = true
    public let tracker: TrajectoryTracker
    public let r2Threshold: Float
    public let straightnessThreshold: Float
    let finishTolerance: Float
    let parameters: [Parameter]
    let horizon: Horizon
    let stepsPerEpoch: Int
    let plannedSteps: Int

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        horizon = settings.horizon
        stepsPerEpoch = context.stepsPerEpoch
        plannedSteps = context.timeline.plannedSteps
        tracker = TrajectoryTracker(
            parameters: context.parameters, window: settings.window,
            every: settings.statsEvery.steps(perEpoch: context.stepsPerEpoch),
            horizon: settings.horizon.steps(after: 0, perEpoch: context.stepsPerEpoch, plannedSteps: plannedSteps))
        r2Threshold = Float(settings.r2Threshold)
        straightnessThreshold = Float(settings.straightnessThreshold)
        finishTolerance = Float(settings.finishTolerance)
    }

    public func observe(step: Int) { tracker.observe(step: step) }

    /// The horizon in steps after the latest record.
    var currentHorizon: Int { horizon.steps(after: tracker.lastStep, perEpoch: stepsPerEpoch, plannedSteps: plannedSteps) }

    /// A line needs three records (R² is 0 before).
    public var trajectoryWindow: TrajectoryWindow? { tracker.trajectoryWindow(needed: 3) }

    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { countFlagged(flagged(index: index).flag, pruned) }

    /// Whether weight `w` (entry `j`, live) is flagged, and its predicted value at the horizon.
    @inline(__always)
    private func judge(_ e: TrajectoryStatistics.Entries, _ w: Float, _ j: Int) -> (flagged: Bool, predicted: Float) {
        let predicted = e.extrapolated(j)
        let linear = e.rSquared(j) >= r2Threshold || e.straightness(j) >= straightnessThreshold
        return (linear && abs(predicted) < abs(w), predicted)
    }

    /// Which weights are flagged, and the live weights' predicted values at the horizon (0 for
    /// pruned ones).
    public func flagged(index: Int) -> (flag: [Bool], predicted: [Float]) {
        let judged = forEachWeight(index: index) { _, flagged, predicted in (flagged, predicted) }
        return (judged.map(\.0), judged.map(\.1))
    }

    /// `body(w, flagged, predicted)` for every weight of parameter `index` in one pass over its
    /// statistics; pruned weights (w = 0) are never flagged and get no statistics read.
    /// Split over the cores (weights are independent, so the result does not depend on the
    /// split): a check runs on the training thread while the data-parallel workers wait.
    private func forEachWeight<R>(index: Int, _ body: (Float, Bool, Float) -> R) -> [R] {
        let w = parameters[index].value.scalars
        let n = w.count
        return tracker.statistics[index].withEntries(horizon: currentHorizon) { e in
            w.withUnsafeBufferPointer { w in
                [R](unsafeUninitializedCapacity: n) { out, initialized in
                    let base = out.baseAddress
                    ParallelRanges.forEach(count: n, threads: ProcessInfo.processInfo.activeProcessorCount) { range in
                        for j in range {
                            let value: R
                            if w[j] == 0 {
                                value = body(w[j], false, 0)
                            } else {
                                let (f, p) = judge(e, w[j], j)
                                value = body(w[j], f, p)
                            }
                            (base! + j).initialize(to: value)
                        }
                    }
                    initialized = n
                }
            }
        }
    }

    public func scores(index: Int) -> [Float] {
        forEachWeight(index: index) { w, flagged, predicted in
            guard flagged else { return abs(w) }
            return (predicted > 0) != (w > 0) ? 0 : abs(predicted)
        }
    }

    public func finished(index: Int) -> [Bool]? {
        let w = parameters[index].value.scalars
        var sum: Float = 0, live = 0
        for x in w where x != 0 { sum += abs(x); live += 1 }
        let tolerance = live == 0 ? 0 : finishTolerance * sum / Float(live)
        return forEachWeight(index: index) { w, flagged, predicted in
            flagged && ((predicted > 0) != (w > 0) || abs(predicted) <= tolerance)
        }
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        tracker.statistics[index].withEntries { e in
            [meanAt(pruned, e.rSquared), meanAt(pruned, e.straightness)]
        }
    }

    /// R² of the fitted line, straightness and the value predicted at the horizon.
    public func statistics(index: Int) -> [(name: String, values: [Float])] {
        let s = tracker.statistics[index]
        return [("r2", s.rSquared()), ("straightness", s.straightness()), ("predicted", s.extrapolated(horizon: currentHorizon))]
    }

    public func statistics(index: Int, at entries: [Int]) -> [(name: String, values: [Float])] {
        tracker.statistics[index].withEntries(horizon: currentHorizon) { e in
            [("r2", entries.map(e.rSquared)), ("straightness", entries.map(e.straightness)), ("predicted", entries.map(e.extrapolated))]
        }
    }

    public func save(into archive: StateArchive, prefix: String) { tracker.save(into: archive, prefix: prefix) }

    public func restore(from archive: StateArchive, prefix: String) throws { try tracker.restore(from: archive, prefix: prefix) }
}

import TensorCore
import NN

/// A criterion that scores weights while they train; lower scores are pruned first.
///
/// The schedule decides how many weights a check prunes; the criterion decides which. Scores
/// of different criteria are never compared with each other, only within one selection.
public protocol DynamicCriterion: AnyObject {
    var name: String { get }
    /// Called after every optimizer step with the pruned parameters (values after the step,
    /// gradients of the step). Must be cheap: O(weights) at most, no allocation.
    func observe(step: Int, parameters: [Parameter])
    /// Scores of parameter `index` (same layout as its value).
    func scores(index: Int, parameter: Parameter) -> [Float]
    /// Per-weight statistics to report for the weights a check pruned (column ▶ value).
    func describe(index: Int, pruned: [Int]) -> [(String, Double)]
}

/// Gradual magnitude pruning's criterion: `|w|` (Zhu & Gupta 2017, with their cubic schedule).
public final class MagnitudeCriterion: DynamicCriterion {
    public let name = "magnitude"
    public init() {}
    public func observe(step: Int, parameters: [Parameter]) {}
    public func scores(index: Int, parameter: Parameter) -> [Float] { MagnitudeScore.scores(parameter) }
    public func describe(index: Int, pruned: [Int]) -> [(String, Double)] { [] }
}

/// Movement pruning's score `S = -sum_t w_t * g_t` accumulated over every step (Sanh et al.
/// 2020): weights that gradient descent keeps pushing toward zero get low scores.
public final class MovementCriterion: DynamicCriterion {
    public let name = "movement"
    var accumulated: [[Float]] = []

    public init() {}

    public func observe(step: Int, parameters: [Parameter]) {
        if accumulated.isEmpty { accumulated = parameters.map { [Float](repeating: 0, count: $0.value.count) } }
        for (i, p) in parameters.enumerated() {
            p.value.scalars.withUnsafeBufferPointer { w in
                p.grad.scalars.withUnsafeBufferPointer { g in
                    accumulated[i].withUnsafeMutableBufferPointer { s in
                        for j in 0..<s.count { s[j] -= w[j] * g[j] }
                    }
                }
            }
        }
    }

    public func scores(index: Int, parameter: Parameter) -> [Float] {
        accumulated.isEmpty ? MagnitudeScore.scores(parameter) : accumulated[index]
    }

    public func describe(index: Int, pruned: [Int]) -> [(String, Double)] {
        guard !accumulated.isEmpty, !pruned.isEmpty else { return [] }
        let s = accumulated[index]
        return [("mean_movement_score", pruned.reduce(0.0) { $0 + Double(s[$1]) } / Double(pruned.count))]
    }
}

/// Trajectory statistics kept for the pruned parameters, updated every `every` steps.
public final class TrajectoryTracker {
    public let statistics: [TrajectoryStatistics]
    public let every: Int
    public let horizon: Int

    /// `window` counts records (one every `every` steps); `horizon` is in optimizer steps.
    public init(parameters: [Parameter], window: Int, every: Int, horizon: Int) {
        statistics = parameters.map { TrajectoryStatistics(count: $0.value.count, window: window, horizon: horizon) }
        self.every = max(1, every)
        self.horizon = horizon
    }

    public func observe(step: Int, parameters: [Parameter]) {
        guard step % every == 0 else { return }
        for (s, p) in zip(statistics, parameters) { s.update(p.value, mask: p.mask, step: step) }
    }
}

/// The core idea: prune a weight whose recent trajectory is near-linear and predicts it small,
/// or across zero, before it gets there.
///
/// A weight is *flagged* when its trajectory is near-linear (`R^2 >= r2Threshold` or
/// straightness `|displacement| / path >= straightnessThreshold`) and heads toward zero
/// (`|w + slope * H| < |w|`, H the horizon in steps). A flagged weight scores its predicted
/// magnitude `|w + slope * H|`, or 0 when the prediction crosses zero; any other weight scores
/// its current `|w|`. So this is magnitude pruning that trusts a straight trajectory's
/// destination over its present position: with no flagged weight it is plain magnitude order.
public final class LinearCriterion: DynamicCriterion {
    public let name = "linear"
    public let tracker: TrajectoryTracker
    public let r2Threshold: Float
    public let straightnessThreshold: Float

    public init(tracker: TrajectoryTracker, r2Threshold: Double, straightnessThreshold: Double) {
        self.tracker = tracker
        self.r2Threshold = Float(r2Threshold)
        self.straightnessThreshold = Float(straightnessThreshold)
    }

    public func observe(step: Int, parameters: [Parameter]) { tracker.observe(step: step, parameters: parameters) }

    /// Which weights are flagged, and their predicted values at the horizon.
    public func flagged(index: Int, parameter: Parameter) -> (flag: [Bool], predicted: [Float]) {
        let s = tracker.statistics[index]
        let r2 = s.rSquared(), straight = s.straightness(), predicted = s.extrapolated(horizon: tracker.horizon)
        let w = parameter.value.scalars
        var flag = [Bool](repeating: false, count: w.count)
        for j in 0..<w.count where w[j] != 0 {
            let linear = r2[j] >= r2Threshold || straight[j] >= straightnessThreshold
            flag[j] = linear && abs(predicted[j]) < abs(w[j])
        }
        return (flag, predicted)
    }

    public func scores(index: Int, parameter: Parameter) -> [Float] {
        let (flag, predicted) = flagged(index: index, parameter: parameter)
        let w = parameter.value.scalars
        return (0..<w.count).map { j in
            guard flag[j] else { return abs(w[j]) }
            return (predicted[j] > 0) != (w[j] > 0) ? 0 : abs(predicted[j])
        }
    }

    public func describe(index: Int, pruned: [Int]) -> [(String, Double)] {
        guard !pruned.isEmpty else { return [] }
        let s = tracker.statistics[index]
        let r2 = s.rSquared(), straight = s.straightness()
        func mean(_ xs: [Float]) -> Double { pruned.reduce(0.0) { $0 + Double(xs[$1]) } / Double(pruned.count) }
        return [("mean_r2", mean(r2)), ("mean_straightness", mean(straight))]
    }
}

/// Prune weights that have stopped moving: mean |update| below `fraction` of the layer's
/// median mean |update| (over unmasked weights) flags a weight; flagged weights score `|w|`,
/// the rest `|w| + max|w|`, as in `LinearCriterion`.
public final class StalledCriterion: DynamicCriterion {
    public let name = "stalled"
    public let tracker: TrajectoryTracker
    public let fraction: Float

    public init(tracker: TrajectoryTracker, fraction: Double) {
        self.tracker = tracker
        self.fraction = Float(fraction)
    }

    public func observe(step: Int, parameters: [Parameter]) { tracker.observe(step: step, parameters: parameters) }

    public func scores(index: Int, parameter: Parameter) -> [Float] {
        let moves = tracker.statistics[index].meanAbsUpdate()
        let w = parameter.value.scalars
        let live = (0..<w.count).filter { w[$0] != 0 }.map { moves[$0] }.sorted()
        let median = live.isEmpty ? 0 : live[live.count / 2]
        let offset = w.reduce(Float(0)) { max($0, abs($1)) }
        return (0..<w.count).map { j in moves[j] < fraction * median ? abs(w[j]) : abs(w[j]) + offset }
    }

    public func describe(index: Int, pruned: [Int]) -> [(String, Double)] {
        guard !pruned.isEmpty else { return [] }
        let moves = tracker.statistics[index].meanAbsUpdate()
        return [("mean_abs_update", pruned.reduce(0.0) { $0 + Double(moves[$1]) } / Double(pruned.count))]
    }
}

/// The sparsity a layer should have at step `t`: Zhu & Gupta's cubic ramp from 0 at `start`
/// to `final` at `end`, `s(t) = final * (1 - (1 - (t - start) / (end - start))^3)`, clamped.
public func cubicSparsity(step t: Int, start: Int, end: Int, final: Double) -> Double {
    guard t > start else { return 0 }
    guard t < end, end > start else { return final }
    let x = 1 - Double(t - start) / Double(end - start)
    return final * (1 - x * x * x)
}

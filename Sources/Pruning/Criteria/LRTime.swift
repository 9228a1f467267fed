import Foundation
import NN
import Schema
import TensorCore

/// A weight's destination in *learning-rate time*: its recent displacement per unit of
/// learning rate, carried over the learning rate the schedule still has to give, predicts its
/// value at the end of training; the smallest predicted |w| go first.
///
/// With `disp = sum_k a_k u_k` the exponentially weighted displacement over the window
/// (`TrajectoryStatistics`, `a_k = beta^(T - s_k)`), `spent = sum_k a_k (L(s_k) - L(s_(k-1)))`
/// the learning rate the same updates were taken under (same weights, `LearningRateTimeline`),
/// and `R = L(T_end) - L(T)` the learning rate after the latest record:
///
///     predicted = w + (disp / spent) * R,   score = |predicted|
///
/// Under SGD a weight's update is `-lr` times its (smoothed) gradient, so `disp / spent` is the
/// weight's recent mean negative gradient, and the prediction assumes it holds for the rest of
/// training: a straight line in learning-rate time, which bends in step time as a decaying
/// schedule slows the weights (a cosine run's last epochs add little, so late predictions
/// approach the current value). Every live weight is scored by its trajectory once the window
/// holds two records; before, a check prunes nothing.
/// Anchors: weight nowcasting (Jang et al., ICML 2023) and introspection (Sinha et al., ICLR 2017).
public final class LRTimeCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var statsEvery: Duration
        public var window: Int

        enum CodingKeys: String, CodingKey, CaseIterable { case statsEvery = "stats_every", window }

        public static let keyHelp: [(key: String, help: String)] = [
            ("stats_every", "update the trajectory statistics every this often (`10it`, `1ep`)"),
            ("window", "effective length of the exponential window, in statistics updates"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
            window = try c.value(.window, default: 20)
        }

        public func validate(at path: String) throws {
            try validateWindow(statsEvery: statsEvery, window: window, at: path)
        }
    }

    public static let name = "lrtime"
    public static let summary = "|w| at the end of training, extrapolated in learning-rate time (displacement per unit lr × lr left)"
    public static let reportColumns = ["mean_predicted_abs"]
    public static let scoresFromHistory = true
    public let tracker: TrajectoryTracker
    let timeline: LearningRateTimeline
    let parameters: [Parameter]
    /// `sum_k a_k (L(s_k) - L(s_(k-1)))`, decayed like the statistics' displacement.
    private(set) var spent = 0.0

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        timeline = context.timeline
        tracker = TrajectoryTracker(
            parameters: context.parameters, window: settings.window,
            every: settings.statsEvery.steps(perEpoch: context.stepsPerEpoch), horizon: 0)
    }

    public func observe(step: Int) {
        guard step % tracker.every == 0 else { return }
        let previous = tracker.records == 0 ? nil : tracker.lastStep
        tracker.observe(step: step)
        guard let previous, let s = tracker.statistics.first else { return }
        // the statistics decayed their displacement by beta^(step - previous) and added this update
        spent = pow(s.beta, Double(step - previous)) * spent + (timeline.elapsed(step) - timeline.elapsed(previous))
    }

    public var trajectoryWindow: TrajectoryWindow? { tracker.trajectoryWindow(needed: 2) }

    /// Every live weight's score is its predicted end value.
    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { pruned.count }

    /// Predicted end-of-training values of parameter `index` (0 for pruned weights).
    public func predicted(index: Int) -> [Float] {
        let rate = spent > 0 ? timeline.remaining(after: tracker.lastStep) / spent : 0
        let w = parameters[index].value.scalars
        return tracker.statistics[index].withEntries { e in
            w.withUnsafeBufferPointer { w in
                (0..<w.count).map { j in w[j] == 0 ? 0 : Float(Double(w[j]) + Double(e.displacement(j)) * rate) }
            }
        }
    }

    public func scores(index: Int) -> [Float] { predicted(index: index).map(abs) }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        let p = predicted(index: index)
        return [meanAt(pruned) { abs(p[$0]) }]
    }

    public func statistics(index: Int) -> [(name: String, values: [Float])] { [("predicted", predicted(index: index))] }

    public func save(into archive: StateArchive, prefix: String) {
        tracker.save(into: archive, prefix: "\(prefix)/tracker")
        archive.set("\(prefix)/spent", [spent])
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        try tracker.restore(from: archive, prefix: "\(prefix)/tracker")
        let s = try archive.doubles("\(prefix)/spent")
        guard s.count == 1 else { throw StateArchiveError.shape("\(prefix)/spent") }
        spent = s[0]
    }
}

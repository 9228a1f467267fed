/// The learning rate a run's optimizer steps use, summed, so a criterion can measure a weight's
/// movement in *learning-rate time* and know how much learning rate the schedule still has to
/// give.
///
/// Step `s` (1-based, the optimizer step that produced the weights a criterion observes after
/// it) applies the rate `lr(s - 1)` of the schedule's 0-based index. With `L(t) = sum_{i < t}
/// lr(i)` (`cumulative[t]`, `L(0) = 0`), the weights after step `a` moved to those after step
/// `b > a` under `L(b) - L(a)` of learning rate, and after step `t` the rest of training gives
/// `L(T) - L(t)`, `T` the planned steps. Built once per run (O(T) doubles).
public struct LearningRateTimeline: Sendable, Equatable {
    /// `cumulative[t] = sum_{i < t} lr(i)` for `t` in `0...plannedSteps`.
    public let cumulative: [Double]

    /// The timeline of `plannedSteps` steps whose 0-based step `i` uses `rate(i)`.
    public init(plannedSteps: Int, rate: (Int) -> Double) {
        precondition(plannedSteps >= 0, "LearningRateTimeline: negative plannedSteps \(plannedSteps)")
        var c = [Double](repeating: 0, count: plannedSteps + 1)
        for i in 0..<plannedSteps { c[i + 1] = c[i] + rate(i) }
        cumulative = c
    }

    /// No planned steps (unit tests that build criteria without a run).
    public static let empty = LearningRateTimeline(plannedSteps: 0) { _ in 0 }

    /// Optimizer steps of the planned training.
    public var plannedSteps: Int { cumulative.count - 1 }

    /// `L(t)`, clamped to `0...plannedSteps`.
    public func elapsed(_ t: Int) -> Double { cumulative[min(max(t, 0), plannedSteps)] }

    /// The learning rate the steps after step `t` still give, `L(T) - L(t)` (0 past the end).
    public func remaining(after t: Int) -> Double { elapsed(plannedSteps) - elapsed(t) }

    /// Steps left after step `t` (0 past the end).
    public func stepsRemaining(after t: Int) -> Int { max(0, plannedSteps - t) }
}

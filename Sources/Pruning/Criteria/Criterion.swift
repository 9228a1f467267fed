import TensorCore
import NN
import Schema

/// A criterion scores weights while they train; lower scores are pruned first.
///
/// The schedule decides when a check runs and how many weights it may prune; the criterion
/// decides which. Scores of different criteria are never compared with each other, only
/// within one selection. A criterion is one type in one file, listed once in
/// `CriterionRegistry.all`; its settings are the config section named after it
/// (`pruning.dynamic.<name>`).
public protocol Criterion: AnyObject {
    associatedtype Settings: ConfigSection
    /// The name used in configs, summaries, events and `prunelab list`.
    static var name: String { get }
    /// One line for `prunelab list` and the docs.
    static var summary: String { get }
    /// Columns this criterion adds to `events.csv`: statistics of the weights a check pruned.
    static var reportColumns: [String] { get }
    /// Whether `finished(index:)` answers (the `adaptive` schedule needs it).
    static var decidesFinished: Bool { get }
    /// The schedule `prunelab compare` pairs the criterion with by default.
    static var preferredSchedule: String { get }
    /// Whether the scores rest only on what `observe` sees (the weights and gradients after
    /// each step), so `prunelab predictability` can replay the criterion from a recorded
    /// trajectory; false for criteria that compute their own gradients or draw at random.
    static var scoresFromHistory: Bool { get }
    init(settings: Settings, context: CriterionContext) throws
    /// After every optimizer step (values after the step, gradients of the step). Must be
    /// cheap: O(weights) at most.
    func observe(step: Int)
    /// Called once before training when the schedule prunes at initialisation (step 0),
    /// before `scores`: a criterion that needs gradients at the initial weights takes them here.
    func prepareAtInitialization()
    /// Scores of pruned parameter `index` (same layout as its value).
    func scores(index: Int) -> [Float]
    /// Values of `reportColumns` for the weights a check just pruned (nil: no value).
    func report(index: Int, pruned: [Int]) -> [Double?]
    /// Which weights the criterion calls finished (for the `adaptive` schedule); nil when the
    /// criterion has no such notion.
    func finished(index: Int) -> [Bool]?
    /// The per-weight statistics the scores of parameter `index` rest on, by name, each in
    /// the parameter's layout (TensorBoard histograms); none by default.
    func statistics(index: Int) -> [(name: String, values: [Float])]
    /// `statistics(index:)` at the flat `entries` only (the weights a check pruned); criteria
    /// whose statistics are cheap per entry compute just those.
    func statistics(index: Int, at entries: [Int]) -> [(name: String, values: [Float])]
    /// After every check, when the scores were used (criteria that accumulate over the time
    /// between checks reset here).
    func checkDidEnd()
    /// Saves and restores whatever the criterion accumulates (checkpoints, taken between
    /// epochs): a resumed run must score exactly as an uninterrupted one.
    func save(into archive: StateArchive, prefix: String)
    func restore(from archive: StateArchive, prefix: String) throws
    /// For a criterion that scores from weight trajectories: how many trajectory records its
    /// window holds now, and how many it needs before any trajectory decision (nil for a
    /// criterion that reads no trajectory). The pruner prunes nothing while `records < needed`
    /// and, with `wait_for_statistics`, nothing until `records >= full`.
    var trajectoryWindow: TrajectoryWindow? { get }
    /// Of the weights a check just pruned from parameter `index`, how many were scored by
    /// their trajectory (the rest by plain magnitude); nil for a criterion that reads no
    /// trajectory. `events.csv` reports both counts.
    func chosenByTrajectory(index: Int, pruned: [Int]) -> Int?
}

/// How much trajectory a criterion has seen: `records` statistics updates so far, at least
/// `needed` before a trajectory can be fitted at all, `full` once the window is full.
public struct TrajectoryWindow: Equatable, Sendable {
    public var records: Int
    public var needed: Int
    public var full: Int

    public init(records: Int, needed: Int, full: Int) {
        self.records = records
        self.needed = needed
        self.full = full
    }

    /// Whether a trajectory can be fitted (`records >= needed`).
    public var isUsable: Bool { records >= needed }
    /// Whether the window is full (`records >= full`).
    public var isFull: Bool { records >= full }
}

extension Criterion {
    public static var decidesFinished: Bool { false }
    public static var preferredSchedule: String { "cubic" }
    public static var scoresFromHistory: Bool { false }
    public func observe(step: Int) {}
    public func prepareAtInitialization() {}
    public func report(index: Int, pruned: [Int]) -> [Double?] { [] }
    public func finished(index: Int) -> [Bool]? { nil }
    public func statistics(index: Int) -> [(name: String, values: [Float])] { [] }
    public func statistics(index: Int, at entries: [Int]) -> [(name: String, values: [Float])] {
        statistics(index: index).map { stat in (stat.name, entries.map { stat.values[$0] }) }
    }
    public func checkDidEnd() {}
    public func save(into archive: StateArchive, prefix: String) {}
    public func restore(from archive: StateArchive, prefix: String) throws {}
    public var trajectoryWindow: TrajectoryWindow? { nil }
    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { nil }
}

/// Saves per-parameter accumulators (`[]` until the first step), and a criterion's random
/// stream when it has one, under `prefix`.
public func saveAccumulators(_ sums: [[Float]], rng: RandomSource? = nil, into archive: StateArchive, prefix: String) {
    archive.set("\(prefix)/count", sums.count)
    for (i, s) in sums.enumerated() { archive.set("\(prefix)/\(i)", s) }
    if let rng { archive.set("\(prefix)/rng", rng) }
}

/// What `saveAccumulators` wrote: the sums, and the random stream into `rng` when given.
public func restoreAccumulators(from archive: StateArchive, prefix: String, rng: UnsafeMutablePointer<RandomSource>? = nil) throws
    -> [[Float]]
{
    if let rng { rng.pointee = try archive.rng("\(prefix)/rng") }
    return try (0..<archive.int("\(prefix)/count")).map { try archive.floats("\(prefix)/\($0)") }
}

/// The mean of parameter `index`'s accumulated scores over `pruned`, nil before any.
public func meanAt(_ sums: [[Float]], _ index: Int, _ pruned: [Int]) -> Double? {
    sums.isEmpty ? nil : meanAt(sums[index], pruned)
}

/// What a criterion can use: the parameters it scores, the loop's timing, its own random
/// stream, and gradients on demand.
public struct CriterionContext {
    /// The pruned parameters, in layer order; `scores(index:)` indexes into this list.
    public let parameters: [Parameter]
    public let stepsPerEpoch: Int
    /// `seed ▶ "criterion.<name>"`: independent of the data order and the initial weights.
    public let rng: RandomSource
    /// Gradients on probe batches (nil where the run cannot provide them, e.g. in unit tests).
    public let gradients: GradientSource?
    /// The run's learning rate per step and its planned length (criteria that look to the end
    /// of training read it; unit tests may leave it empty).
    public let timeline: LearningRateTimeline

    public init(
        parameters: [Parameter], stepsPerEpoch: Int, rng: RandomSource, gradients: GradientSource? = nil,
        timeline: LearningRateTimeline = .empty
    ) {
        self.parameters = parameters
        self.stepsPerEpoch = stepsPerEpoch
        self.rng = rng
        self.gradients = gradients
        self.timeline = timeline
    }

    /// A `ConfigError` at `pruning.dynamic.<criterion>` unless gradients are available.
    public func requireGradients(_ criterion: String) throws -> GradientSource {
        guard let gradients else {
            throw ConfigError(
                path: "pruning.dynamic.criterion", "\"\(criterion)\" needs gradients on probe batches, which this run cannot provide")
        }
        return gradients
    }
}

/// Batches of training samples chosen for a criterion's own gradient computations.
public struct ProbeBatch: Sendable, Equatable {
    public let indices: [Int]
    public init(indices: [Int]) { self.indices = indices }
}

/// Computes loss gradients at the current weights without taking an optimizer step.
///
/// Implemented by the run (it owns the model and the data); `Pruning` never imports `Training`.
public protocol GradientSource: AnyObject {
    /// `count` batches drawn from the criterion's own random stream (the training data order
    /// is untouched).
    func probeBatches(_ count: Int, rng: inout RandomSource) -> [ProbeBatch]
    /// The mean loss gradient over `batches` at the current weights, one array per pruned
    /// parameter (in `CriterionContext.parameters` order, each in its parameter's layout).
    /// Leaves the parameters' `grad` buffers overwritten.
    func gradients(on batches: [ProbeBatch]) -> [[Float]]
}

/// `sums[k][j] += term(w_j, g_j)` for every pruned parameter k (values after the step, the
/// step's gradients); `sums` starts at zeros. The accumulation behind `movement` and `snip`.
@inlinable
public func accumulate(_ parameters: [Parameter], into sums: inout [[Float]], _ term: (Float, Float) -> Float) {
    if sums.isEmpty { sums = parameters.map { [Float](repeating: 0, count: $0.value.count) } }
    for (i, p) in parameters.enumerated() {
        p.value.scalars.withUnsafeBufferPointer { w in
            p.grad.scalars.withUnsafeBufferPointer { g in
                sums[i].withUnsafeMutableBufferPointer { s in
                    for j in 0..<s.count { s[j] += term(w[j], g[j]) }
                }
            }
        }
    }
}

/// Mean of `value(j)` over `indices`, nil when there are none.
@inlinable
public func meanAt(_ indices: [Int], _ value: (Int) -> Float) -> Double? {
    guard !indices.isEmpty else { return nil }
    return indices.reduce(0.0) { $0 + Double(value($1)) } / Double(indices.count)
}

/// Mean of `values` at `indices`, nil when there are none.
@inlinable
public func meanAt(_ values: [Float], _ indices: [Int]) -> Double? {
    meanAt(indices) { values[$0] }
}

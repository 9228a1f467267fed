import Schema

/// When a dynamic run checks, and how much each check may prune.
///
/// A schedule is one type in one file, listed once in `ScheduleRegistry.all`; its settings
/// are the section named after it (`pruning.dynamic.<name>`). At a check the pruner asks the
/// schedule, layer by layer, for a `PruneRequest`, and the criterion's scores pick the weights.
public protocol Schedule: AnyObject {
    associatedtype Settings: ConfigSection
    static var name: String { get }
    static var summary: String { get }
    /// Whether the schedule asks for the criterion's *finished* weights (needs a criterion
    /// with `decidesFinished`).
    static var needsFinished: Bool { get }
    init(settings: Settings, context: ScheduleContext) throws
    /// Whether the schedule prunes once before the first optimizer step (step 0).
    var checksAtInitialization: Bool { get }
    /// Whether step `t` (1-based, after the optimizer step) is a check.
    func isCheck(step t: Int) -> Bool
    /// What to prune from one layer at check step `t`.
    func request(step t: Int, layer: LayerState) -> PruneRequest
    /// Whether no check after step `t` can prune anything from `layers` (the pruner then stops
    /// feeding the criterion: its statistics would never be read again). False when unknown.
    func isFinished(after t: Int, layers: [LayerState]) -> Bool
}

extension Schedule {
    public static var needsFinished: Bool { false }
    public var checksAtInitialization: Bool { false }
    public func isFinished(after t: Int, layers: [LayerState]) -> Bool { false }
}

extension LayerState {
    /// Whether the layer holds no more than its final target's share of weights.
    public var reachedFinalTarget: Bool { alive <= ExactCount.kept(total, sparsity: finalTarget) }
}

/// The loop's timing, for converting durations.
public struct ScheduleContext: Sendable {
    public let stepsPerEpoch: Int
    /// Optimizer steps of the configured training.
    public let plannedSteps: Int
    /// Where the schedule's section sits (`pruning.dynamic`, `pruning.units`), for errors.
    public let section: String

    public init(stepsPerEpoch: Int, plannedSteps: Int, section: String = "pruning.dynamic") {
        self.stepsPerEpoch = stepsPerEpoch
        self.plannedSteps = plannedSteps
        self.section = section
    }

    /// `d` in steps.
    public func steps(_ d: Duration) -> Int { d.steps(perEpoch: stepsPerEpoch) }
}

/// One pruned layer at a check.
public struct LayerState: Sendable {
    public let name: String
    /// Weights in the layer, and how many are still unmasked.
    public let total: Int
    public let alive: Int
    /// The layer's final sparsity (`layer_sparsity` or `target_sparsity`).
    public let finalTarget: Double

    public init(name: String, total: Int, alive: Int, finalTarget: Double) {
        self.name = name
        self.total = total
        self.alive = alive
        self.finalTarget = finalTarget
    }
}

/// What one check does to one layer.
public struct PruneRequest: Equatable, Sendable {
    public enum Pick: Equatable, Sendable {
        /// The `count` alive weights with the lowest scores.
        case lowest
        /// The alive weights the criterion calls finished, lowest scores first, at most `count`.
        case finished
    }
    public var pick: Pick
    public var count: Int
    /// The sparsity the schedule aims at now (reported in `events.csv`; NaN when it has none).
    public var target: Double

    public init(pick: Pick, count: Int, target: Double) {
        self.pick = pick
        self.count = count
        self.target = target
    }

    public static func lowest(_ count: Int, target: Double) -> PruneRequest { .init(pick: .lowest, count: count, target: target) }
}

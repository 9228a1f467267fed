import Schema

/// No target sparsity: every check prunes each weight the criterion calls *finished* (for
/// `linear`, a near-linear trajectory whose value at the horizon is within a tolerance of
/// zero; for `stalled`, updates below the threshold over the whole window), bounded by a
/// per-check cap and a floor of live weights per layer. The final sparsity is an outcome of
/// training, not a setting: this is the literal form of PruneLab's question.
///
/// Per check and layer: prune the finished alive weights, lowest scores first, at most
/// `min(floor(max_per_check · n), alive - ceil(min_density · n))`.
public final class AdaptiveSchedule: Schedule {
    public struct Settings: ConfigSection {
        public var start: Duration
        public var end: Duration?
        public var every: Duration
        public var maxPerCheck: Double
        public var minDensity: Double

        enum CodingKeys: String, CodingKey, CaseIterable {
            case start, end, every, maxPerCheck = "max_per_check", minDensity = "min_density"
        }

        public static let keyHelp: [(key: String, help: String)] = [
            ("start", "first check (`1ep`, `500it`)"),
            ("end", "last check (absent: checks until training ends)"),
            ("every", "check every this often"),
            ("max_per_check", "at most this fraction of a layer's weights pruned by one check (0-1]"),
            ("min_density", "never fewer than this fraction of a layer's weights left alive [0-1)"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            start = try c.value(.start, default: Duration(1, .epochs))
            end = try c.value(.end, default: nil)
            every = try c.value(.every, default: Duration(50, .steps))
            maxPerCheck = try c.value(.maxPerCheck, default: 0.05)
            minDensity = try c.value(.minDensity, default: 0.02)
        }

        public func validate(at path: String) throws {
            if every.amount <= 0 { throw ConfigError(path: child(path, "every"), "must be positive, got \(every)") }
            if !(maxPerCheck > 0 && maxPerCheck <= 1) {
                throw ConfigError(path: child(path, "max_per_check"), "must be in (0, 1], got \(maxPerCheck)")
            }
            if !(minDensity >= 0 && minDensity < 1) {
                throw ConfigError(path: child(path, "min_density"), "must be in [0, 1), got \(minDensity)")
            }
        }
    }

    public static let name = "adaptive"
    public static let summary = "no target: each check prunes what the criterion calls finished, capped, above a floor"
    public static let needsFinished = true
    let startStep: Int, endStep: Int, everySteps: Int
    let maxPerCheck: Double, minDensity: Double

    public init(settings: Settings, context: ScheduleContext) throws {
        startStep = context.steps(settings.start)
        endStep = settings.end.map(context.steps) ?? Int.max
        everySteps = context.steps(settings.every)
        maxPerCheck = settings.maxPerCheck
        minDensity = settings.minDensity
        if endStep < startStep {
            throw ConfigError(path: "pruning.dynamic.adaptive.end", "must not come before pruning.dynamic.adaptive.start")
        }
    }

    public func isCheck(step t: Int) -> Bool {
        t >= startStep && t <= endStep && (t - startStep) % everySteps == 0
    }

    public func request(step t: Int, layer: LayerState) -> PruneRequest {
        let n = layer.total
        let floor = ExactCount.ceil(n, times: minDensity)
        let cap = ExactCount.floor(n, times: maxPerCheck)
        return PruneRequest(pick: .finished, count: max(0, min(cap, layer.alive - floor)), target: .nan)
    }

    /// No check comes after `end` (never, when `end` is not set).
    public func isFinished(after t: Int, layers: [LayerState]) -> Bool { t >= endStep }
}

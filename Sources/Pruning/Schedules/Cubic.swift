import Schema

/// Zhu & Gupta's (2017) gradual schedule: every `every` from `start`, each layer is brought
/// toward the cubic ramp's sparsity `s(t) = final (1 - (1 - (t - start) / (end - start))^3)`,
/// at most `max_per_check` of its weights per check; checks go on after `end`, at the final
/// target, until the caps have let every layer reach it.
///
/// Per check and layer: `k = min(alive - (n - floor(n s(t))), floor(max_per_check · n))`, in
/// integer arithmetic (`ExactCount`).
public final class CubicSchedule: Schedule {
    public struct Settings: ConfigSection {
        public var start: Duration
        public var end: Duration
        public var every: Duration
        public var maxPerCheck: Double

        enum CodingKeys: String, CodingKey, CaseIterable { case start, end, every, maxPerCheck = "max_per_check" }

        public static let keyHelp: [(key: String, help: String)] = [
            ("start", "first check (`1ep`, `500it`); the ramp starts at 0 here"),
            ("end", "the ramp reaches the final target here; must be within training"),
            ("every", "check every this often"),
            ("max_per_check", "at most this fraction of a layer's weights pruned by one check (0-1]"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            start = try c.value(.start, default: Duration(1, .epochs))
            end = try c.value(.end, default: Duration(10, .epochs))
            every = try c.value(.every, default: Duration(50, .steps))
            maxPerCheck = try c.value(.maxPerCheck, default: 0.1)
        }

        public func validate(at path: String) throws {
            if every.amount <= 0 { throw ConfigError(path: child(path, "every"), "must be positive, got \(every)") }
            if !(maxPerCheck > 0 && maxPerCheck <= 1) {
                throw ConfigError(path: child(path, "max_per_check"), "must be in (0, 1], got \(maxPerCheck)")
            }
        }
    }

    public static let name = "cubic"
    public static let summary = "cubic ramp of the target sparsity from start to end (Zhu & Gupta 2017)"
    let startStep: Int, endStep: Int, everySteps: Int
    let maxPerCheck: Double

    public init(settings: Settings, context: ScheduleContext) throws {
        startStep = context.steps(settings.start)
        endStep = context.steps(settings.end)
        everySteps = context.steps(settings.every)
        maxPerCheck = settings.maxPerCheck
        let path = "\(context.section).cubic"
        guard endStep > startStep else {
            throw ConfigError(path: "\(path).end", "must come after \(path).start (\(settings.start) ▶ \(settings.end))")
        }
        guard endStep <= context.plannedSteps else {
            throw ConfigError(
                path: "\(path).end",
                "\(settings.end) is after the end of training (\(context.plannedSteps) steps); "
                    + "give at most \"\(context.plannedSteps)it\"\(Self.epochsHint(context))")
        }
    }

    /// `or "Nep"` when training is a whole number N of epochs.
    static func epochsHint(_ context: ScheduleContext) -> String {
        let perEpoch = context.stepsPerEpoch
        guard perEpoch > 0, context.plannedSteps % perEpoch == 0 else { return "" }
        return " or \"\(context.plannedSteps / perEpoch)ep\""
    }

    public func isCheck(step t: Int) -> Bool { t >= startStep && (t - startStep) % everySteps == 0 }

    public func request(step t: Int, layer: LayerState) -> PruneRequest {
        let n = layer.total
        let target = cubicSparsity(step: t, start: startStep, end: endStep, final: layer.finalTarget)
        let keep = ExactCount.kept(n, sparsity: target)
        let k = min(max(0, layer.alive - keep), ExactCount.floor(n, times: maxPerCheck))
        return .lowest(k, target: target)
    }

    /// From `end` on every check aims at the final target, so once each layer is there no
    /// check prunes again.
    public func isFinished(after t: Int, layers: [LayerState]) -> Bool {
        t >= endStep && layers.allSatisfy(\.reachedFinalTarget)
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

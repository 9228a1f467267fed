import Schema

/// Every pruning method, by name. A new method is one new folder under `Methods/` plus one
/// line here.
public enum MethodRegistry {
    public static let all: [MethodEntry] = [
        MethodEntry(DenseMethod.self),
        MethodEntry(HanMethod.self),
        MethodEntry(DynamicMethod.self),
        MethodEntry(StructuredMethod.self),
        MethodEntry(UnitsMethod.self),
    ]

    public static var names: [String] { all.names }
    public static func entry(named name: String) -> MethodEntry? { all.entry(named: name) }

    /// Every arm the methods offer for `base` (what a compare can run), in registry order.
    public static func arms(for base: ExperimentConfig) throws -> [MethodArm] {
        try all.flatMap { try $0.arms(base) }
    }
}

/// A method type with its settings type erased.
public struct MethodEntry: RegistryEntry {
    public let name: String
    public let summary: String
    public let settingsType: any ConfigSection.Type
    let arms: @Sendable (ExperimentConfig) throws -> [MethodArm]
    private let build: @Sendable (AnySection, RunContext) throws -> any PruningMethod

    init<M: PruningMethod>(_ type: M.Type) {
        name = M.name
        summary = M.summary
        settingsType = M.Settings.self
        arms = { try M.arms(for: $0) }
        build = { settings, run in try M(settings: settings.typed(M.Settings.self), run: run) }
    }

    func make(_ run: RunContext) throws -> any PruningMethod { try build(run.pruning.settings, run) }
}

import Schema

/// Every pruning schedule of the `dynamic` method, by name. A new schedule is one new file
/// plus one line here.
public enum ScheduleRegistry {
    public static let all: [ScheduleEntry] = [
        ScheduleEntry(CubicSchedule.self),
        ScheduleEntry(AdaptiveSchedule.self),
        ScheduleEntry(InitSchedule.self),
    ]

    public static var names: [String] { all.names }
    public static func entry(named name: String) -> ScheduleEntry? { all.entry(named: name) }
}

/// A schedule type with its settings type erased.
public struct ScheduleEntry: RegistryEntry {
    public let name: String
    public let summary: String
    public let needsFinished: Bool
    public let settingsType: any ConfigSection.Type
    private let build: @Sendable (any ConfigSection, ScheduleContext) throws -> any Schedule

    public init<S: Schedule>(_ type: S.Type) {
        name = S.name
        summary = S.summary
        needsFinished = S.needsFinished
        settingsType = S.Settings.self
        build = { settings, context in
            guard let s = settings as? S.Settings else {
                preconditionFailure("\(S.name): settings of type \(Swift.type(of: settings)), expected \(S.Settings.self)")
            }
            return try S(settings: s, context: context)
        }
    }

    public func make(settings: any ConfigSection, context: ScheduleContext) throws -> any Schedule {
        try build(settings, context)
    }
}

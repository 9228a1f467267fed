import Foundation
import Schema
import Pruning

/// `pruning.dynamic`: prune while training. `criterion` picks which weights go
/// (`CriterionRegistry`), `schedule` when and how many (`ScheduleRegistry`); each plug-in's
/// settings are the section named after it (`pruning.dynamic.linear`, `pruning.dynamic.cubic`).
/// Sections of plug-ins not chosen are checked and then dropped.
public struct DynamicSettings: ConfigSection {
    public var criterion: String
    public var schedule: String
    public var criterionSettings: AnySection
    public var scheduleSettings: AnySection
    /// A trajectory criterion's checks prune nothing until its window is full (not only usable).
    public var waitForStatistics: Bool
    /// Extrapolate-and-freeze (`pruning.dynamic.freeze`), off by default.
    public var freeze: FreezeSettings

    public static let keyHelp: [(key: String, help: String)] = [
        (
            "criterion",
            "which weights go: \(CriterionRegistry.names.joined(separator: ", ")) (`prunelab list criteria`); its keys go in `pruning.dynamic.<criterion>`"
        ),
        (
            "schedule",
            "when and how many: \(ScheduleRegistry.names.joined(separator: ", ")) (`prunelab list schedules`); its keys go in `pruning.dynamic.<schedule>`"
        ),
        (
            "wait_for_statistics",
            "a trajectory criterion's checks prune nothing until its window is full (without: until it holds the few records a fit needs)"
        ),
        (
            "freeze",
            "extrapolate-and-freeze: move confidently predictable weights to their predicted end value and stop training them (keys: `pruning.dynamic.freeze.*`)"
        ),
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let plugins = CriterionRegistry.names + ScheduleRegistry.names
        let own = ["criterion", "schedule", "wait_for_statistics", "freeze"]
        for key in c.allKeys where !own.contains(key.stringValue) && !plugins.contains(key.stringValue) {
            throw ConfigError(
                path: jsonPath(c.codingPath + [key]),
                "unknown key; known keys here: \((own + plugins).sorted().joined(separator: ", "))")
        }
        waitForStatistics = try c.value(AnyKey(stringValue: "wait_for_statistics"), default: false)
        freeze = try c.value(AnyKey(stringValue: "freeze"), default: try FreezeSettings.defaults())
        try freeze.validate(at: "pruning.dynamic.freeze")
        criterion = try c.value(AnyKey(stringValue: "criterion"), default: "linear")
        schedule = try c.value(AnyKey(stringValue: "schedule"), default: "cubic")
        guard let ce = CriterionRegistry.entry(named: criterion) else {
            throw ConfigError(
                path: "pruning.dynamic.criterion",
                "unknown criterion \"\(criterion)\"; known: \(CriterionRegistry.names.joined(separator: ", "))")
        }
        guard let se = ScheduleRegistry.entry(named: schedule) else {
            throw ConfigError(
                path: "pruning.dynamic.schedule",
                "unknown schedule \"\(schedule)\"; known: \(ScheduleRegistry.names.joined(separator: ", "))")
        }
        if se.needsFinished && !ce.decidesFinished {
            let able = CriterionRegistry.all.filter(\.decidesFinished).map(\.name)
            throw ConfigError(
                path: "pruning.dynamic.schedule",
                "\"\(schedule)\" prunes what the criterion calls finished; \"\(criterion)\" has no such rule (use \(able.joined(separator: " or ")))"
            )
        }
        var chosen: [String: AnySection] = [:]
        let entries = CriterionRegistry.all.map { ($0.name, $0.settingsType) } + ScheduleRegistry.all.map { ($0.name, $0.settingsType) }
        for (name, type) in entries where name == criterion || name == schedule || c.contains(AnyKey(stringValue: name)) {
            chosen[name] = try AnySection.decode(
                type, name: name, from: c, key: AnyKey(stringValue: name),
                path: "pruning.dynamic.\(name)")
        }
        criterionSettings = chosen[criterion]!
        scheduleSettings = chosen[schedule]!
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(criterion, forKey: AnyKey(stringValue: "criterion"))
        try c.encode(schedule, forKey: AnyKey(stringValue: "schedule"))
        try c.encode(waitForStatistics, forKey: AnyKey(stringValue: "wait_for_statistics"))
        if freeze.enabled { try c.encode(freeze, forKey: AnyKey(stringValue: "freeze")) }
        if !(criterionSettings.value is NoSettings) { try c.encode(criterionSettings, forKey: AnyKey(stringValue: criterion)) }
        if !(scheduleSettings.value is NoSettings) { try c.encode(scheduleSettings, forKey: AnyKey(stringValue: schedule)) }
    }
}

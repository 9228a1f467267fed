import Schema
import TensorCore

/// Every in-training criterion, by name. A new criterion is one new file plus one line here.
public enum CriterionRegistry {
    public static let all: [CriterionEntry] = [
        CriterionEntry(MagnitudeCriterion.self),
        CriterionEntry(LinearCriterion.self),
        CriterionEntry(StalledCriterion.self),
        CriterionEntry(MovementCriterion.self),
        CriterionEntry(RandomCriterion.self),
        CriterionEntry(SNIPCriterion.self),
        CriterionEntry(GraSPCriterion.self),
        CriterionEntry(TaylorCriterion.self),
        CriterionEntry(LRTimeCriterion.self),
        CriterionEntry(PlateauCriterion.self),
    ]

    public static var names: [String] { all.names }
    public static func entry(named name: String) -> CriterionEntry? { all.entry(named: name) }
}

/// A criterion type with its settings type erased, for registries and docs.
public struct CriterionEntry: RegistryEntry {
    public let name: String
    public let summary: String
    public let reportColumns: [String]
    public let decidesFinished: Bool
    public let preferredSchedule: String
    public let scoresFromHistory: Bool
    public let settingsType: any ConfigSection.Type
    private let build: @Sendable (any ConfigSection, CriterionContext) throws -> AnyCriterion

    public init<C: Criterion>(_ type: C.Type) {
        name = C.name
        summary = C.summary
        reportColumns = C.reportColumns
        decidesFinished = C.decidesFinished
        preferredSchedule = C.preferredSchedule
        scoresFromHistory = C.scoresFromHistory
        settingsType = C.Settings.self
        build = { settings, context in
            guard let s = settings as? C.Settings else {
                preconditionFailure("\(C.name): settings of type \(Swift.type(of: settings)), expected \(C.Settings.self)")
            }
            return AnyCriterion(try C(settings: s, context: context))
        }
    }

    public func make(settings: any ConfigSection, context: CriterionContext) throws -> AnyCriterion {
        try build(settings, context)
    }
}

/// A criterion behind its associated type.
public final class AnyCriterion {
    public let name: String
    public let reportColumns: [String]
    private let base: any Criterion

    init<C: Criterion>(_ c: C) {
        base = c
        name = C.name
        reportColumns = C.reportColumns
    }

    public func observe(step: Int) { base.observe(step: step) }
    public func prepareAtInitialization() { base.prepareAtInitialization() }
    public func scores(index: Int) -> [Float] { base.scores(index: index) }
    public func report(index: Int, pruned: [Int]) -> [Double?] { base.report(index: index, pruned: pruned) }
    public func finished(index: Int) -> [Bool]? { base.finished(index: index) }
    public func statistics(index: Int) -> [(name: String, values: [Float])] { base.statistics(index: index) }
    public func statistics(index: Int, at entries: [Int]) -> [(name: String, values: [Float])] {
        base.statistics(index: index, at: entries)
    }
    public func checkDidEnd() { base.checkDidEnd() }
    public func save(into archive: StateArchive, prefix: String) { base.save(into: archive, prefix: prefix) }
    public func restore(from archive: StateArchive, prefix: String) throws { try base.restore(from: archive, prefix: prefix) }
    public var trajectoryWindow: TrajectoryWindow? { base.trajectoryWindow }
    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { base.chosenByTrajectory(index: index, pruned: pruned) }
}

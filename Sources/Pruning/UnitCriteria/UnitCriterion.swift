/// How whole units (conv filters, dense neurons) are ranked for removal by structured
/// pruning; the lowest scores go first. One type per file, listed once in
/// `UnitCriterionRegistry.all`.
public protocol UnitCriterion {
    static var name: String { get }
    static var summary: String { get }
    /// The score of every unit of `layer` (higher means more important); units that are not
    /// `alive` get 0 and must not influence the others' scores.
    static func scores(_ layer: UnitLayer, alive: [Bool]) -> [Float]
}

/// Every structured (unit) criterion, by name.
public enum UnitCriterionRegistry {
    public static let all: [any UnitCriterion.Type] = [
        L1UnitCriterion.self,
        FPGMUnitCriterion.self,
    ]

    public static var names: [String] { all.map { $0.name } }

    public static func criterion(named name: String) -> (any UnitCriterion.Type)? { all.first { $0.name == name } }
}

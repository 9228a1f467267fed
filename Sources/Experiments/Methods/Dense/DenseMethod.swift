import Schema
import NN

/// No pruning: the dense baseline every comparison starts from.
public final class DenseMethod: PruningMethod {
    public static let name = "dense"
    public static let summary = "no pruning: the dense baseline"
    public let pruned: [Parameter]
    public static var removesWeights: Bool { false }

    public static func arms(for base: ExperimentConfig) -> [MethodArm] {
        [MethodArm(name: name, overrides: ["pruning.method=dense"], isDefault: true)]
    }

    public init(settings: NoSettings, run: RunContext) {
        pruned = run.session.model.prunableParameters
    }

    public var label: RunLabel { RunLabel(method: Self.name) }
}

import TensorCore
import NN
import Schema

/// Uniform random pruning on the same schedule: the control that ShrinkBench's checklist
/// (Blalock et al. 2020) asks every comparison to include. Each check draws fresh uniform
/// scores from the criterion's own stream (`seed ▶ "criterion.random"`), so the choice is
/// reproducible per seed and independent of the weights.
public final class RandomCriterion: Criterion {
    public static let name = "random"
    public static let summary = "uniform random scores: the control every comparison should include"
    public static let reportColumns: [String] = []
    let parameters: [Parameter]
    var rng: RandomSource

    public init(settings: NoSettings, context: CriterionContext) {
        parameters = context.parameters
        rng = context.rng
    }

    public func scores(index: Int) -> [Float] {
        (0..<parameters[index].value.count).map { _ in Float(rng.nextUniform()) }
    }

    public func save(into archive: StateArchive, prefix: String) { archive.set("\(prefix)/rng", rng) }

    public func restore(from archive: StateArchive, prefix: String) throws { rng = try archive.rng("\(prefix)/rng") }
}

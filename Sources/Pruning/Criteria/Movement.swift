import NN
import Schema
import TensorCore

/// Movement pruning's score `S = -sum_t w_t * g_t` accumulated over every step (Sanh et al.
/// 2020): weights that gradient descent keeps pushing toward zero get low scores. Before the
/// first step it is `|w|`.
public final class MovementCriterion: Criterion {
    public static let name = "movement"
    public static let summary = "-sum over steps of w*g (Sanh et al. 2020): weights pushed toward zero go first"
    public static let reportColumns = ["mean_movement_score"]
    public static let scoresFromHistory = true
    let parameters: [Parameter]
    var accumulated: [[Float]] = []

    public init(settings: NoSettings, context: CriterionContext) {
        parameters = context.parameters
    }

    public func observe(step: Int) { accumulate(parameters, into: &accumulated) { w, g in -(w * g) } }

    public func scores(index: Int) -> [Float] {
        accumulated.isEmpty ? MagnitudeScore.scores(parameters[index]) : accumulated[index]
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        guard !accumulated.isEmpty else { return [nil] }
        return [meanAt(accumulated[index], pruned)]
    }

    public func save(into archive: StateArchive, prefix: String) {
        saveAccumulators(accumulated, into: archive, prefix: prefix)
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        accumulated = try restoreAccumulators(from: archive, prefix: prefix)
    }
}

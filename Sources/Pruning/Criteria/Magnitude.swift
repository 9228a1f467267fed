import NN
import Schema

/// Gradual magnitude pruning's criterion: `|w|` (Zhu & Gupta 2017, with their cubic schedule).
public final class MagnitudeCriterion: Criterion {
    public static let name = "magnitude"
    public static let summary = "|w|: gradual magnitude pruning (Zhu & Gupta 2017) on the cubic schedule"
    public static let reportColumns: [String] = []
    public static let scoresFromHistory = true
    let parameters: [Parameter]

    public init(settings: NoSettings, context: CriterionContext) {
        parameters = context.parameters
    }

    public func scores(index: Int) -> [Float] { MagnitudeScore.scores(parameters[index]) }
}

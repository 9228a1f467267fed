import TensorCore
import NN
import Schema

/// Connection sensitivity |w * g| (Lee et al. 2019, "SNIP: Single-shot Network Pruning based
/// on Connection Sensitivity").
///
/// At initialisation (the `init` schedule) the gradient is the mean over `batches` probe
/// batches at the initial weights, as in the paper (which uses one batch). On a schedule the
/// score is |w * g| summed over the training steps since the previous check (the gradients
/// the loop computes anyway, so it costs one pass per step), and the sum restarts after every
/// check; before the first step it is |w|. Lower sensitivity is pruned first.
public final class SNIPCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var batches: Int

        enum CodingKeys: String, CodingKey, CaseIterable { case batches }

        public static let keyHelp: [(key: String, help: String)] = [
            ("batches", "probe batches averaged for the gradient at initialisation (`init` schedule)")
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            batches = try c.value(.batches, default: 1)
        }

        public func validate(at path: String) throws {
            if batches < 1 { throw ConfigError(path: child(path, "batches"), "must be >= 1, got \(batches)") }
        }
    }

    public static let name = "snip"
    public static let summary = "connection sensitivity |w*g| (Lee et al. 2019), at initialisation or between checks"
    public static let reportColumns = ["mean_sensitivity"]
    let parameters: [Parameter]
    let settings: Settings
    let gradients: GradientSource?
    var rng: RandomSource
    var sensitivity: [[Float]] = []

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        self.settings = settings
        gradients = context.gradients
        rng = context.rng
    }

    public func prepareAtInitialization() {
        guard let gradients else { return }
        let g = gradients.gradients(on: gradients.probeBatches(settings.batches, rng: &rng))
        sensitivity = zip(parameters, g).map { p, gi in zip(p.value.scalars, gi).map { abs($0 * $1) } }
    }

    public func observe(step: Int) { accumulate(parameters, into: &sensitivity) { w, g in abs(w * g) } }

    public func scores(index: Int) -> [Float] {
        sensitivity.isEmpty ? MagnitudeScore.scores(parameters[index]) : sensitivity[index]
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] { [meanAt(sensitivity, index, pruned)] }

    public func checkDidEnd() { sensitivity = [] }

    public func save(into archive: StateArchive, prefix: String) { saveAccumulators(sensitivity, rng: rng, into: archive, prefix: prefix) }

    public func restore(from archive: StateArchive, prefix: String) throws {
        sensitivity = try restoreAccumulators(from: archive, prefix: prefix, rng: &rng)
    }
}

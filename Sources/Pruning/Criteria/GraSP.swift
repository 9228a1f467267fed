import TensorCore
import NN
import Schema

/// Gradient Signal Preservation (Wang et al. 2020, "Picking Winning Tickets Before Training
/// by Preserving Gradient Flow"): a second-order signal, unlike magnitude or |w*g|.
///
/// GraSP scores `S = -w ⊙ Hg` (H the Hessian of the loss, g its gradient) and removes the
/// weights with the *highest* S, whose removal reduces the gradient norm the least; so this
/// criterion's score (lower pruned first) is `-S = w ⊙ Hg`. The Hessian-gradient product is
/// taken by central finite differences of the gradient along g, on the same probe batches:
///
///     Hg ≈ (∇L(w + δ g) − ∇L(w − δ g)) / (2δ),   δ = fd_step · ‖w‖ / ‖g‖
///
/// (the paper uses double back-propagation, which PruneLab's hand-written layers do not
/// have; the difference quotient needs three gradient passes per probe batch instead). Each
/// check recomputes it at the current weights over `batches` fresh probe batches; the weights
/// are restored exactly afterwards. Two deviations from the authors' code: the scores are ranked
/// per layer (PruneLab's targets are per layer) rather than globally, and the logits are not
/// divided by a temperature (their T = 200) before the Hessian-gradient product.
public final class GraSPCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var batches: Int
        public var fdStep: Double

        enum CodingKeys: String, CodingKey, CaseIterable { case batches, fdStep = "fd_step" }

        public static let keyHelp: [(key: String, help: String)] = [
            ("batches", "probe batches for g and Hg at each check"),
            ("fd_step", "finite-difference step along g, relative: δ‖g‖ = fd_step · ‖w‖"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            batches = try c.value(.batches, default: 4)
            fdStep = try c.value(.fdStep, default: 1e-3)
        }

        public func validate(at path: String) throws {
            if batches < 1 { throw ConfigError(path: child(path, "batches"), "must be >= 1, got \(batches)") }
            if !(fdStep > 0 && fdStep < 1) { throw ConfigError(path: child(path, "fd_step"), "must be in (0, 1), got \(fdStep)") }
        }
    }

    public static let name = "grasp"
    public static let summary = "w*Hg, gradient-flow preservation (Wang et al. 2020), Hg by finite differences"
    public static let reportColumns = ["mean_w_hg"]
    /// GraSP is a pruning-at-initialisation method; on a schedule during training it removes
    /// weights the network needs (LeNet-300-100 at 92%: 0.25 test accuracy after 3 epochs,
    /// against 0.86 at initialisation).
    public static let preferredSchedule = "init"
    let parameters: [Parameter]
    let settings: Settings
    let gradients: GradientSource
    var rng: RandomSource
    /// `w ⊙ Hg` per parameter from the latest computation (empty until a check asks).
    var score: [[Float]] = []

    public init(settings: Settings, context: CriterionContext) throws {
        parameters = context.parameters
        self.settings = settings
        gradients = try context.requireGradients(Self.name)
        rng = context.rng
    }

    /// Computes `w ⊙ Hg` for every pruned parameter at the current weights.
    func compute() {
        let batches = gradients.probeBatches(settings.batches, rng: &rng)
        let g = gradients.gradients(on: batches)
        let saved = parameters.map(\.value)
        var gg = 0.0, ww = 0.0
        for (p, gi) in zip(parameters, g) {
            for x in gi { gg += Double(x) * Double(x) }
            for x in p.value.scalars { ww += Double(x) * Double(x) }
        }
        guard gg > 0 else {
            score = parameters.map { [Float](repeating: 0, count: $0.value.count) }
            return
        }
        let delta = Float(settings.fdStep * ww.squareRoot() / gg.squareRoot())
        func shifted(_ sign: Float) -> [[Float]] {
            for (k, p) in parameters.enumerated() {
                var v = saved[k]
                v.scalars.withUnsafeMutableBufferPointer { w in
                    for j in 0..<w.count { w[j] += sign * delta * g[k][j] }
                }
                p.value = v
                p.applyMask()
            }
            return gradients.gradients(on: batches)
        }
        let plus = shifted(1), minus = shifted(-1)
        for (k, p) in parameters.enumerated() { p.value = saved[k] }
        score = (0..<parameters.count).map { k in
            let w = saved[k].scalars
            return (0..<w.count).map { j in w[j] * (plus[k][j] - minus[k][j]) / (2 * delta) }
        }
    }

    public func prepareAtInitialization() { compute() }

    public func scores(index: Int) -> [Float] {
        if score.isEmpty { compute() }
        return score[index]
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] { [meanAt(score, index, pruned)] }

    public func checkDidEnd() { score = [] }

    public func save(into archive: StateArchive, prefix: String) { saveAccumulators(score, rng: rng, into: archive, prefix: prefix) }

    public func restore(from archive: StateArchive, prefix: String) throws {
        score = try restoreAccumulators(from: archive, prefix: prefix, rng: &rng)
    }
}

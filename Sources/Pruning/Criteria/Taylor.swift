import NN
import Schema
import TensorCore

/// First-order Taylor importance (Molchanov et al. 2019, "Importance Estimation for Neural
/// Network Pruning"): the loss change from removing a weight is about `g·w`, and its square,
/// averaged over steps with an exponential moving average of decay `decay`, is the weight's
/// importance. Before the first step it is `|w|`. Lower importance is pruned first.
public final class TaylorCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var decay: Double

        enum CodingKeys: String, CodingKey, CaseIterable { case decay }

        public static let keyHelp: [(key: String, help: String)] = [
            ("decay", "decay of the moving average of (g·w)² per step, [0, 1)")
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            decay = try c.value(.decay, default: 0.99)
        }

        public func validate(at path: String) throws {
            if !(decay >= 0 && decay < 1) { throw ConfigError(path: child(path, "decay"), "must be in [0, 1), got \(decay)") }
        }
    }

    public static let name = "taylor"
    public static let summary = "moving average of (g·w)², first-order Taylor importance (Molchanov et al. 2019)"
    public static let reportColumns = ["mean_taylor_importance"]
    public static let scoresFromHistory = true
    let parameters: [Parameter]
    let decay: Float
    var importance: [[Float]] = []

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        decay = Float(settings.decay)
    }

    public func observe(step: Int) {
        if importance.isEmpty { importance = parameters.map { [Float](repeating: 0, count: $0.value.count) } }
        for (i, p) in parameters.enumerated() {
            p.value.scalars.withUnsafeBufferPointer { w in
                p.grad.scalars.withUnsafeBufferPointer { g in
                    importance[i].withUnsafeMutableBufferPointer { s in
                        for j in 0..<s.count {
                            let t = w[j] * g[j]
                            s[j] = decay * s[j] + (1 - decay) * t * t
                        }
                    }
                }
            }
        }
    }

    public func scores(index: Int) -> [Float] {
        importance.isEmpty ? MagnitudeScore.scores(parameters[index]) : importance[index]
    }

    public func report(index: Int, pruned: [Int]) -> [Double?] {
        [importance.isEmpty ? nil : meanAt(importance[index], pruned)]
    }

    public func save(into archive: StateArchive, prefix: String) {
        saveAccumulators(importance, into: archive, prefix: prefix)
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        importance = try restoreAccumulators(from: archive, prefix: prefix)
    }
}

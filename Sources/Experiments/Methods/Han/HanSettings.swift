import Foundation
import Schema
import Pruning

/// `pruning.han`: the post-training baseline of Han et al. 2015, train then rounds of
/// prune ▶ retrain. The `sparsity` rule's targets are the shared `pruning.target_sparsity` /
/// `pruning.layer_sparsity`.
public struct HanSettings: ConfigSection {
    public enum Rule: String, Codable, Sendable, CaseIterable { case std, percentile, sparsity }
    public enum RetrainSchedule: String, Codable, Sendable, CaseIterable { case constant, cosine }
    public var rule: Rule
    public var q: Double
    public var layerQ: [String: Double]
    public var percentile: Double
    public var scope: PruningScope
    public var rounds: Int
    public var stopAtSparsity: Double
    public var retrain: Duration
    public var retrainLearningRate: Double
    public var retrainSchedule: RetrainSchedule
    public var resetMomentum: Bool
    public var curve: CurveConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rule, q, layerQ = "layer_q", percentile, scope, rounds, stopAtSparsity = "stop_at_sparsity"
        case retrain, retrainLearningRate = "retrain_learning_rate", retrainSchedule = "retrain_schedule"
        case resetMomentum = "reset_momentum", curve
    }

    public static let keyHelp: [(key: String, help: String)] = [
        (
            "rule",
            "`std`: prune |w| <= q·σ of the surviving weights (Han); `percentile`: below the p-th percentile of the surviving |w| (the carvnocar course pipeline's rule); `sparsity`: exactly enough to reach the target"
        ),
        ("q", "`std` quality parameter for every layer, > 0"),
        ("layer_q", "per-layer q (`{\"fc1\": 1.2}`)"),
        ("percentile", "`percentile` rule, in (0, 100)"),
        ("scope", "`layer` or `global` (one threshold over all pruned layers' weights)"),
        ("rounds", "prune ▶ retrain rounds; the `sparsity` rule prunes the same fraction of survivors each round"),
        ("stop_at_sparsity", "stop early when the pruned layers reach it (0: never)"),
        ("retrain", "retraining per round"),
        ("retrain_learning_rate", "learning rate of retraining, > 0"),
        ("retrain_schedule", "`constant`, or `cosine`: annealed to 0 within every round"),
        ("reset_momentum", "zero the optimizer state before each retraining"),
        (
            "curve",
            "accuracy against sparsity without retraining, from the trained dense model (`prune-curve.csv`), see `pruning.han.curve`"
        ),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.value(.rule, default: .std)
        q = try c.value(.q, default: 1.0)
        layerQ = try c.value(.layerQ, default: [:])
        percentile = try c.value(.percentile, default: 5)
        scope = try c.value(.scope, default: .layer)
        rounds = try c.value(.rounds, default: 5)
        stopAtSparsity = try c.value(.stopAtSparsity, default: 0)
        retrain = try c.value(.retrain, default: Duration(2, .epochs))
        retrainLearningRate = try c.value(.retrainLearningRate, default: 0.005)
        retrainSchedule = try c.value(.retrainSchedule, default: .constant)
        resetMomentum = try c.value(.resetMomentum, default: true)
        curve = try c.value(.curve, default: try CurveConfig.defaults())
    }

    public func validate(at path: String) throws {
        if !(q > 0) { throw ConfigError(path: child(path, "q"), "must be > 0, got \(q)") }
        for (k, v) in layerQ where !(v > 0) { throw ConfigError(path: child(path, "layer_q.\(k)"), "must be > 0, got \(v)") }
        if !(percentile > 0 && percentile < 100) {
            throw ConfigError(path: child(path, "percentile"), "must be in (0, 100), got \(percentile)")
        }
        if !(0...10_000).contains(rounds) { throw ConfigError(path: child(path, "rounds"), "must be in 0...10000, got \(rounds)") }
        if !(stopAtSparsity >= 0 && stopAtSparsity < 1) {
            throw ConfigError(path: child(path, "stop_at_sparsity"), "must be in [0, 1), got \(stopAtSparsity)")
        }
        if !(retrainLearningRate > 0) {
            throw ConfigError(path: child(path, "retrain_learning_rate"), "must be > 0, got \(retrainLearningRate)")
        }
        if scope == .global && !layerQ.isEmpty {
            throw ConfigError(path: child(path, "scope"), "per-layer q needs scope \"layer\"")
        }
        try curve.validate(at: child(path, "curve"))
    }
}

/// The grid of a prune-curve: sparsities `from`, `from + step`, … up to `to` (inclusive).
public struct CurveConfig: ConfigSection {
    public var enabled: Bool
    public var from: Double
    public var to: Double
    public var step: Double
    /// Also prune each layer alone at every sparsity (sensitivity).
    public var perLayer: Bool
    /// Sparsities at which `footprint.csv` gives the pruned model's bytes (empty: no file).
    public var footprint: [Double]
    /// Also evaluate each point after re-estimating batch norm statistics on the training set.
    public var recalibrateBN: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, from, to, step, perLayer = "per_layer", footprint, recalibrateBN = "recalibrate_bn"
    }

    public static let keyHelp: [(key: String, help: String)] = [
        ("enabled", "write `prune-curve.csv`: test accuracy vs sparsity without retraining, from the trained dense model"),
        ("from", "first sparsity of the grid"),
        ("to", "last sparsity of the grid (< 1); narrow from/to to zoom in"),
        ("step", "grid spacing"),
        ("per_layer", "also prune each layer alone (sensitivity)"),
        ("footprint", "sparsities for `footprint.csv`: bytes of the model pruned (scope `pruning.han.scope`) without retraining"),
        ("recalibrate_bn", "also give each point with batch norm statistics re-estimated on the training set (no weight is trained)"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: false)
        from = try c.value(.from, default: 0)
        to = try c.value(.to, default: 0.99)
        step = try c.value(.step, default: 0.01)
        perLayer = try c.value(.perLayer, default: true)
        footprint = try c.value(.footprint, default: [])
        recalibrateBN = try c.value(.recalibrateBN, default: false)
    }

    public func validate(at path: String) throws {
        guard from >= 0, to < 1, from <= to else {
            throw ConfigError(path: path, "needs 0 <= from <= to < 1, got from \(from) to \(to)")
        }
        guard step > 0 else { throw ConfigError(path: child(path, "step"), "must be > 0, got \(step)") }
        if let bad = footprint.first(where: { !($0 >= 0 && $0 < 1) }) {
            throw ConfigError(path: child(path, "footprint"), "sparsities must be in [0, 1), got \(bad)")
        }
    }

    /// The grid points, computed by index so no rounding drift accumulates.
    public var grid: [Double] {
        let n = Int(((to - from) / step + 1e-9).rounded(.down))
        return (0...n).map { ((from + Double($0) * step) * 1e9).rounded() / 1e9 }
    }
}

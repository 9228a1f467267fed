import Foundation
import Pruning

/// How (and whether) a run prunes. `method` `none` trains dense; `han` is the post-training
/// baseline of Han et al. 2015: train, then `rounds` of prune ▶ retrain.
public struct PruningConfig: Codable, Equatable, Sendable {
    public enum Method: String, Codable, Sendable { case none, han, dynamic, structured }
    public enum Criterion: String, Codable, Sendable, CaseIterable { case linear, stalled, magnitude, movement }
    public enum Rule: String, Codable, Sendable { case std, percentile, sparsity }

    public var method: Method
    /// Magnitude threshold rule, see `ThresholdRule`.
    public var rule: Rule
    /// `std` rule: prune |w| <= q * sigma (one q for all layers) ...
    public var q: Double
    /// ... or per layer (`{"fc1": 1.1}`); layers not listed use `q`.
    public var layerQ: [String: Double]
    /// `percentile` rule: prune below this percentile (0-100) of each round's survivors.
    public var percentile: Double
    /// `sparsity` rule: the final sparsity of every pruned layer (layer scope) or of all of them
    /// pooled (global scope), reached over `rounds` with the same fraction of survivors pruned
    /// each round ...
    public var targetSparsity: Double
    /// ... or per layer (`{"fc1": 0.92}`); layers not listed use `target_sparsity`.
    public var layerSparsity: [String: Double]
    public var scope: PruningScope
    /// Layers (by name, e.g. "fc3") never pruned.
    public var exclude: [String]
    /// Also never prune the last layer.
    public var excludeOutput: Bool
    /// Prune ▶ retrain rounds.
    public var rounds: Int
    /// Stop early once the pruned layers reach this sparsity (0: never).
    public var stopAtSparsity: Double
    /// Retraining per round.
    public var retrain: Duration
    public var retrainLearningRate: Double
    /// `constant`, or `cosine`: from `retrain_learning_rate` down to 0 within every round.
    public var retrainSchedule: RetrainSchedule
    public enum RetrainSchedule: String, Codable, Sendable { case constant, cosine }
    /// Zero the momentum buffers at the start of every retraining round.
    public var resetMomentum: Bool
    /// Accuracy-versus-sparsity curve without retraining, from the trained dense model.
    public var curve: CurveConfig
    /// `dynamic`: which criterion orders the weights (the schedule sets how many).
    public var criterion: Criterion
    /// `dynamic`: checks every `every` from `start` to `end`; the target sparsity ramps up
    /// cubically between them (Zhu & Gupta 2017) and holds after `end`.
    public var start: Duration
    public var end: Duration
    public var every: Duration
    /// `dynamic`: at most this fraction of a layer's weights pruned by one check.
    public var maxPerCheck: Double
    /// `dynamic`: trajectory statistics are updated every `stats_every`, over an exponential
    /// window of `window` updates; extrapolation looks `horizon` ahead.
    public var statsEvery: Duration
    public var window: Int
    public var horizon: Duration
    /// `linear`: near-linear means R^2 >= r2_threshold or straightness >= straightness_threshold.
    public var r2Threshold: Double
    public var straightnessThreshold: Double
    /// `stalled`: mean |update| below this fraction of the layer's median.
    public var stalledFraction: Double
    /// `structured`: whole filters / neurons, see `StructuredConfig`.
    public var structured: StructuredConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, rule, q, layerQ = "layer_q", percentile, targetSparsity = "target_sparsity"
        case layerSparsity = "layer_sparsity", scope, exclude, excludeOutput = "exclude_output", rounds
        case stopAtSparsity = "stop_at_sparsity", retrain, retrainLearningRate = "retrain_learning_rate"
        case retrainSchedule = "retrain_schedule"
        case resetMomentum = "reset_momentum", curve
        case criterion, start, end, every, maxPerCheck = "max_per_check", statsEvery = "stats_every", window, horizon
        case r2Threshold = "r2_threshold", straightnessThreshold = "straightness_threshold"
        case stalledFraction = "stalled_fraction", structured
    }

    static func defaults() throws -> PruningConfig {
        try JSONDecoder().decode(PruningConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.value(.method, default: .none)
        rule = try c.value(.rule, default: .std)
        q = try c.value(.q, default: 1.0)
        layerQ = try c.value(.layerQ, default: [:])
        percentile = try c.value(.percentile, default: 5)
        targetSparsity = try c.value(.targetSparsity, default: 0.9)
        layerSparsity = try c.value(.layerSparsity, default: [:])
        scope = try c.value(.scope, default: .layer)
        exclude = try c.value(.exclude, default: [])
        excludeOutput = try c.value(.excludeOutput, default: false)
        rounds = try c.value(.rounds, default: 5)
        stopAtSparsity = try c.value(.stopAtSparsity, default: 0)
        retrain = try c.value(.retrain, default: Duration(2, .epochs))
        retrainLearningRate = try c.value(.retrainLearningRate, default: 0.005)
        retrainSchedule = try c.value(.retrainSchedule, default: .constant)
        resetMomentum = try c.value(.resetMomentum, default: true)
        curve = try c.value(.curve, default: try CurveConfig.defaults())
        criterion = try c.value(.criterion, default: .linear)
        start = try c.value(.start, default: Duration(1, .epochs))
        end = try c.value(.end, default: Duration(10, .epochs))
        every = try c.value(.every, default: Duration(50, .steps))
        maxPerCheck = try c.value(.maxPerCheck, default: 0.1)
        statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
        window = try c.value(.window, default: 20)
        horizon = try c.value(.horizon, default: Duration(1, .epochs))
        r2Threshold = try c.value(.r2Threshold, default: 0.9)
        straightnessThreshold = try c.value(.straightnessThreshold, default: 0.9)
        stalledFraction = try c.value(.stalledFraction, default: 0.1)
        structured = try c.value(.structured, default: try StructuredConfig.defaults())
    }

    func validate() throws {
        if !(q > 0) { throw ConfigError(path: "pruning.q", "must be > 0, got \(q)") }
        for (k, v) in layerQ where !(v > 0) { throw ConfigError(path: "pruning.layer_q.\(k)", "must be > 0, got \(v)") }
        if !(percentile > 0 && percentile < 100) {
            throw ConfigError(path: "pruning.percentile", "must be in (0, 100), got \(percentile)")
        }
        if !(targetSparsity >= 0 && targetSparsity < 1) {
            throw ConfigError(path: "pruning.target_sparsity", "must be in [0, 1), got \(targetSparsity)")
        }
        for (k, v) in layerSparsity where !(v >= 0 && v < 1) {
            throw ConfigError(path: "pruning.layer_sparsity.\(k)", "must be in [0, 1), got \(v)")
        }
        if rounds < 0 { throw ConfigError(path: "pruning.rounds", "must be >= 0, got \(rounds)") }
        if !(stopAtSparsity >= 0 && stopAtSparsity < 1) {
            throw ConfigError(path: "pruning.stop_at_sparsity", "must be in [0, 1), got \(stopAtSparsity)")
        }
        if !(retrainLearningRate > 0) {
            throw ConfigError(path: "pruning.retrain_learning_rate", "must be > 0, got \(retrainLearningRate)")
        }
        if scope == .global && (!layerQ.isEmpty || !layerSparsity.isEmpty) {
            throw ConfigError(path: "pruning.scope", "per-layer q or sparsity needs scope \"layer\"")
        }
        try curve.validate()
        if every.amount <= 0 { throw ConfigError(path: "pruning.every", "must be positive, got \(every)") }
        if statsEvery.amount <= 0 { throw ConfigError(path: "pruning.stats_every", "must be positive, got \(statsEvery)") }
        if !(maxPerCheck > 0 && maxPerCheck <= 1) {
            throw ConfigError(path: "pruning.max_per_check", "must be in (0, 1], got \(maxPerCheck)")
        }
        if window < 1 { throw ConfigError(path: "pruning.window", "must be >= 1, got \(window)") }
        for (k, v) in [("r2_threshold", r2Threshold), ("straightness_threshold", straightnessThreshold)] where !(v >= 0 && v <= 1) {
            throw ConfigError(path: "pruning.\(k)", "must be in [0, 1], got \(v)")
        }
        if !(stalledFraction > 0) { throw ConfigError(path: "pruning.stalled_fraction", "must be > 0, got \(stalledFraction)") }
        try structured.validate()
    }
}

/// Structured pruning (`method` `structured`): whole conv filters and dense neurons go, ranked
/// by `criterion` (`l1` or `fpgm`, see `StructuredCriterion`), and the pruned model is then
/// compacted into a smaller network.
///
/// - `layers`: the layers to prune (by name); absent means every conv layer. The output layer
///   cannot be pruned (its units are the classes).
/// - `ratio`: the fraction of each listed layer's units removed (default 0.5), or per layer in
///   `layer_ratio` (`{"conv2": 0.6}`).
/// - `mode` `soft` (default; He et al.'s soft filter pruning, the FPGM schedule): from `start`,
///   every `every`, the selected units are zeroed but keep training and may recover; at the
///   end of training the last selection is masked for good. `hard`: train, select once, mask.
/// - `finetune`: training with the final masks fixed afterwards (default `0ep`), at
///   `finetune_learning_rate` (cosine to 0 over the fine-tuning).
public struct StructuredConfig: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable { case soft, hard }
    public var criterion: StructuredCriterion
    public var layers: [String]?
    public var ratio: Double
    public var layerRatio: [String: Double]
    public var mode: Mode
    public var start: Duration
    public var every: Duration
    public var finetune: Duration
    public var finetuneLearningRate: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case criterion, layers, ratio, layerRatio = "layer_ratio", mode, start, every, finetune
        case finetuneLearningRate = "finetune_learning_rate"
    }

    static func defaults() throws -> StructuredConfig {
        try JSONDecoder().decode(StructuredConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        criterion = try c.value(.criterion, default: .fpgm)
        layers = try c.value(.layers, default: nil)
        ratio = try c.value(.ratio, default: 0.5)
        layerRatio = try c.value(.layerRatio, default: [:])
        mode = try c.value(.mode, default: .soft)
        start = try c.value(.start, default: Duration(0, .epochs))
        every = try c.value(.every, default: Duration(1, .epochs))
        finetune = try c.value(.finetune, default: Duration(0, .epochs))
        finetuneLearningRate = try c.value(.finetuneLearningRate, default: 0.002)
    }

    func validate() throws {
        if !(ratio >= 0 && ratio < 1) { throw ConfigError(path: "pruning.structured.ratio", "must be in [0, 1), got \(ratio)") }
        for (k, v) in layerRatio where !(v >= 0 && v < 1) {
            throw ConfigError(path: "pruning.structured.layer_ratio.\(k)", "must be in [0, 1), got \(v)")
        }
        if every.amount <= 0 { throw ConfigError(path: "pruning.structured.every", "must be positive, got \(every)") }
        if start.amount < 0 { throw ConfigError(path: "pruning.structured.start", "must be >= 0, got \(start)") }
        if finetune.amount < 0 { throw ConfigError(path: "pruning.structured.finetune", "must be >= 0, got \(finetune)") }
        if !(finetuneLearningRate > 0) {
            throw ConfigError(path: "pruning.structured.finetune_learning_rate", "must be > 0, got \(finetuneLearningRate)")
        }
    }
}

/// The grid of a prune-curve: sparsities `from`, `from + step`, … up to `to` (inclusive).
public struct CurveConfig: Codable, Equatable, Sendable {
    public var enabled: Bool
    public var from: Double
    public var to: Double
    public var step: Double
    /// Also prune each layer alone at every sparsity (sensitivity).
    public var perLayer: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, from, to, step, perLayer = "per_layer" }

    static func defaults() throws -> CurveConfig {
        try JSONDecoder().decode(CurveConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: false)
        from = try c.value(.from, default: 0)
        to = try c.value(.to, default: 0.99)
        step = try c.value(.step, default: 0.01)
        perLayer = try c.value(.perLayer, default: true)
    }

    func validate() throws {
        guard from >= 0, to < 1, from <= to else {
            throw ConfigError(path: "pruning.curve", "needs 0 <= from <= to < 1, got from \(from) to \(to)")
        }
        guard step > 0 else { throw ConfigError(path: "pruning.curve.step", "must be > 0, got \(step)") }
    }

    /// The grid points, computed by index so no rounding drift accumulates.
    public var grid: [Double] {
        let n = Int(((to - from) / step + 1e-9).rounded(.down))
        return (0...n).map { ((from + Double($0) * step) * 1e9).rounded() / 1e9 }
    }
}

import Foundation
import Schema
import Pruning

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
public struct StructuredSettings: ConfigSection {
    public enum Mode: String, Codable, Sendable, CaseIterable { case soft, hard }
    /// A `UnitCriterionRegistry` name (`l1`, `fpgm`).
    public var criterion: String
    public var layers: [String]?
    public var ratio: Double
    public var layerRatio: [String: Double]
    public var mode: Mode
    public var start: Duration
    public var every: Duration
    public var finetune: Duration
    public var finetuneLearningRate: Double
    public var compactDuringTraining: CompactDuringTraining?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case criterion, layers, ratio, layerRatio = "layer_ratio", mode, start, every, finetune
        case finetuneLearningRate = "finetune_learning_rate"
        case compactDuringTraining = "compact_during_training"
    }

    public static let keyHelp: [(key: String, help: String)] = [
        ("criterion", "how units are ranked: \(UnitCriterionRegistry.names.joined(separator: ", ")) (`prunelab list criteria`)"),
        ("layers", "layers to prune, by name (absent: every conv layer); never the output layer"),
        ("ratio", "fraction of each listed layer's units removed, [0, 1)"),
        ("layer_ratio", "per-layer ratio (`{\"conv2\": 0.6}`)"),
        (
            "mode",
            "`soft` (zero the lowest units at every `every`, free to recover, mask at the end; FPGM's schedule) or `hard` (select once after training)"
        ),
        ("start", "`soft`: first selection"),
        ("every", "`soft`: selection period"),
        ("finetune", "training with the final masks held, after the selection"),
        ("finetune_learning_rate", "fine-tuning learning rate (cosine to 0), > 0"),
        (
            "compact_during_training",
            "absent: off; `{\"at\": \"3ep\"}` (a hard selection at that step) or `{\"when_stable\": N}` (`soft`: once N selections in a row chose the same units) removes the selected units from the network and trains on the smaller one"
        ),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        criterion = try c.value(.criterion, default: "fpgm")
        layers = try c.value(.layers, default: nil)
        ratio = try c.value(.ratio, default: 0.5)
        layerRatio = try c.value(.layerRatio, default: [:])
        mode = try c.value(.mode, default: .soft)
        start = try c.value(.start, default: Duration(0, .epochs))
        every = try c.value(.every, default: Duration(1, .epochs))
        finetune = try c.value(.finetune, default: Duration(0, .epochs))
        finetuneLearningRate = try c.value(.finetuneLearningRate, default: 0.002)
        compactDuringTraining = try c.value(.compactDuringTraining, default: nil)
    }

    public func validate(at path: String) throws {
        guard UnitCriterionRegistry.criterion(named: criterion) != nil else {
            throw ConfigError(
                path: child(path, "criterion"),
                "unknown criterion \"\(criterion)\"; known: \(UnitCriterionRegistry.names.joined(separator: ", "))")
        }
        if !(ratio >= 0 && ratio < 1) { throw ConfigError(path: "\(path).ratio", "must be in [0, 1), got \(ratio)") }
        for (k, v) in layerRatio where !(v >= 0 && v < 1) {
            throw ConfigError(path: "\(path).layer_ratio.\(k)", "must be in [0, 1), got \(v)")
        }
        if every.amount <= 0 { throw ConfigError(path: "\(path).every", "must be positive, got \(every)") }
        if start.amount < 0 { throw ConfigError(path: "\(path).start", "must be >= 0, got \(start)") }
        if finetune.amount < 0 { throw ConfigError(path: "\(path).finetune", "must be >= 0, got \(finetune)") }
        if !(finetuneLearningRate > 0) {
            throw ConfigError(path: "\(path).finetune_learning_rate", "must be > 0, got \(finetuneLearningRate)")
        }
        if let compact = compactDuringTraining {
            try compact.validate(at: "\(path).compact_during_training")
            if compact.whenStable != nil && mode != .soft {
                throw ConfigError(path: "\(path).compact_during_training.when_stable", "needs `mode` `soft` (repeated selections)")
            }
        }
    }
}

/// When structured pruning removes the selected units from the network during training
/// (`pruning.structured.compact_during_training`): exactly one of
/// - `at`: a hard selection at that point of training, then the units go;
/// - `when_stable`: in `soft` mode, once this many selections in a row chose the same units
///   (no unit changed sides), the units of the last one go.
///
/// From then on the network is physically smaller: the pruned filters or neurons, the next
/// layer's matching inputs and the batch-norm channels are gone, the optimizer state is
/// gathered alike, and the FLOP count, the seconds and the per-layer tables are the smaller
/// network's. There are no selections after it.
public struct CompactDuringTraining: ConfigSection {
    public var at: Duration?
    public var whenStable: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case at, whenStable = "when_stable"
    }

    public static let keyHelp: [(key: String, help: String)] = [
        ("at", "a hard selection at this point of training (`3ep`, `500st`), then compaction"),
        ("when_stable", "compact once this many selections in a row chose the same units (>= 1)"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.value(.at, default: nil)
        whenStable = try c.value(.whenStable, default: nil)
    }

    public func validate(at path: String) throws {
        guard (at == nil) != (whenStable == nil) else { throw ConfigError(path: path, "give exactly one of `at` and `when_stable`") }
        if let at, at.amount < 0 { throw ConfigError(path: "\(path).at", "must be >= 0, got \(at)") }
        if let n = whenStable, n < 1 { throw ConfigError(path: "\(path).when_stable", "must be >= 1, got \(n)") }
    }
}

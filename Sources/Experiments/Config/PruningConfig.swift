import Foundation
import Schema

/// How (and whether) a run prunes: the method, the targets every method shares, and the
/// method's own section, named after it (`pruning.han`, `pruning.dynamic`, `pruning.structured`),
/// the way open_lth groups hyperparameters.
///
/// Sections of the other registered methods may be present (a compare base config holds them
/// all); they are decoded strictly and validated, but only the chosen method's section is
/// kept and written to `config.json`.
public struct PruningConfig: Codable, Equatable, Sendable {
    /// A `MethodRegistry` name: `dense`, `han`, `dynamic`, `structured`, `units`.
    public var method: String
    /// The final sparsity of every pruned layer ...
    public var targetSparsity: Double
    /// ... or per layer (`{"fc1": 0.92}`); layers not listed use `target_sparsity`.
    public var layerSparsity: [String: Double]
    /// Layers (by name, e.g. "fc3") never pruned.
    public var exclude: [String]
    /// Also never prune the last layer.
    public var excludeOutput: Bool
    /// The chosen method's section.
    public var settings: AnySection

    static let commonKeys = ["method", "target_sparsity", "layer_sparsity", "exclude", "exclude_output"]

    public static let keyHelp: [(key: String, help: String)] = [
        (
            "method",
            "`dense`, `han`, `dynamic`, `structured` or `units` (`prunelab list methods`); its keys go in the section of the same name"
        ),
        ("target_sparsity", "final sparsity of every pruned layer, [0, 1) (`han` with the `sparsity` rule, `dynamic`)"),
        ("layer_sparsity", "per-layer final sparsity (`{\"fc1\": 0.92}`); layers not listed use `target_sparsity`"),
        ("exclude", "layer names never pruned"),
        ("exclude_output", "never prune the last layer"),
    ]

    /// Keys of the flat pruning block before methods owned their sections, and where they live now.
    static let movedKeys: [String: String] = [
        "rule": "pruning.han.rule", "q": "pruning.han.q", "layer_q": "pruning.han.layer_q",
        "percentile": "pruning.han.percentile", "scope": "pruning.han.scope", "rounds": "pruning.han.rounds",
        "stop_at_sparsity": "pruning.han.stop_at_sparsity", "retrain": "pruning.han.retrain",
        "retrain_learning_rate": "pruning.han.retrain_learning_rate", "retrain_schedule": "pruning.han.retrain_schedule",
        "reset_momentum": "pruning.han.reset_momentum", "curve": "pruning.han.curve",
        "criterion": "pruning.dynamic.criterion", "start": "pruning.dynamic.cubic.start", "end": "pruning.dynamic.cubic.end",
        "every": "pruning.dynamic.cubic.every", "max_per_check": "pruning.dynamic.cubic.max_per_check",
        "stats_every": "pruning.dynamic.linear.stats_every (and pruning.dynamic.stalled.stats_every)",
        "window": "pruning.dynamic.linear.window (and pruning.dynamic.stalled.window)",
        "horizon": "pruning.dynamic.linear.horizon", "r2_threshold": "pruning.dynamic.linear.r2_threshold",
        "straightness_threshold": "pruning.dynamic.linear.straightness_threshold",
        "stalled_fraction": "pruning.dynamic.stalled.fraction",
    ]

    static func defaults() throws -> PruningConfig {
        try JSONDecoder().decode(PruningConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let methods = MethodRegistry.names
        for key in c.allKeys {
            let path = jsonPath(c.codingPath + [key])
            if let moved = PruningConfig.movedKeys[key.stringValue] {
                throw ConfigError(path: path, "moved: this key is now \(moved)")
            }
            guard PruningConfig.commonKeys.contains(key.stringValue) || methods.contains(key.stringValue) else {
                throw ConfigError(
                    path: path, "unknown key; known keys here: \((PruningConfig.commonKeys + methods).sorted().joined(separator: ", "))")
            }
        }
        let methodKey = AnyKey(stringValue: "method")
        method = try c.value(methodKey, default: "dense")
        if method == "none" { throw ConfigError(path: "pruning.method", "\"none\" is now called \"dense\"") }
        guard let chosen = MethodRegistry.entry(named: method) else {
            throw ConfigError(path: "pruning.method", "unknown method \"\(method)\"; known: \(methods.joined(separator: ", "))")
        }
        targetSparsity = try c.value(AnyKey(stringValue: "target_sparsity"), default: 0.9)
        layerSparsity = try c.value(AnyKey(stringValue: "layer_sparsity"), default: [:])
        exclude = try c.value(AnyKey(stringValue: "exclude"), default: [])
        excludeOutput = try c.value(AnyKey(stringValue: "exclude_output"), default: false)
        var mine: AnySection?
        for entry in MethodRegistry.all {
            let key = AnyKey(stringValue: entry.name)
            guard entry.name == method || c.contains(key) else { continue }
            let section = try AnySection.decode(
                entry.settingsType, name: entry.name, from: c, key: key,
                path: "pruning.\(entry.name)")
            if entry.name == chosen.name { mine = section }
        }
        settings = mine!
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(method, forKey: AnyKey(stringValue: "method"))
        try c.encode(targetSparsity, forKey: AnyKey(stringValue: "target_sparsity"))
        try c.encode(layerSparsity, forKey: AnyKey(stringValue: "layer_sparsity"))
        try c.encode(exclude, forKey: AnyKey(stringValue: "exclude"))
        try c.encode(excludeOutput, forKey: AnyKey(stringValue: "exclude_output"))
        if !(settings.value is NoSettings) { try c.encode(settings, forKey: AnyKey(stringValue: method)) }
    }

    func validate() throws {
        if !(targetSparsity >= 0 && targetSparsity < 1) {
            throw ConfigError(path: "pruning.target_sparsity", "must be in [0, 1), got \(targetSparsity)")
        }
        for (k, v) in layerSparsity where !(v >= 0 && v < 1) {
            throw ConfigError(path: "pruning.layer_sparsity.\(k)", "must be in [0, 1), got \(v)")
        }
    }

    /// The final target of layer `name`.
    public func finalTarget(layer name: String) -> Double { layerSparsity[name] ?? targetSparsity }
}

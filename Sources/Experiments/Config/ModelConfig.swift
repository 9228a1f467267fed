import Foundation
import Schema

/// The network: a named preset or a list of layers, and the weight initializer.
///
/// The last layer's activation picks the loss: `softmax` (cross-entropy over `units` classes)
/// or `sigmoid` (binary cross-entropy, `units` 1). Hidden layers use relu, sigmoid, tanh or none.
public struct ModelConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        ("preset", "a named network (`prunelab list presets`); or give `layers`"),
        ("layers", "the network as a list of layers (see the layer table below); or give `preset`"),
        ("init", "weight initializer: he, xavier, normal"),
        ("init_scale", "standard deviation for `normal` (absent: 1/sqrt(fan_in))"),
        ("init_file", "initial weights from a model file (model.h5 layout) instead of `init`"),
    ]

    public enum InitName: String, Codable, Sendable, CaseIterable { case he, xavier, normal }
    public var preset: String?
    public var layers: [LayerSpec]?
    public var initializer: InitName
    /// Standard deviation for `normal`; absent means `1/sqrt(fan_in)`.
    public var initScale: Double?
    /// Initial weights from a model file (`model.h5` layout: `fc1/weight`, `fc1/bias`, optional
    /// `fc1/mask`; root attribute `format` = `prunelab-dense-1`) instead of `init`.
    public var initFile: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case preset, layers, initializer = "init", initScale = "init_scale", initFile = "init_file"
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.value(.preset, default: nil)
        layers = try c.value(.layers, default: nil)
        initializer = try c.value(.initializer, default: .he)
        initScale = try c.value(.initScale, default: nil)
        initFile = try c.value(.initFile, default: nil)
    }

    public func validate(at path: String = "model") throws {
        switch (preset, layers) {
        case (nil, nil): throw ConfigError(path: "model", "give either \"preset\" or \"layers\"")
        case (.some, .some): throw ConfigError(path: "model", "give either \"preset\" or \"layers\", not both")
        case (.some(let p), nil):
            guard ModelRegistry.presetNames.contains(p) else {
                throw ConfigError(
                    path: "model.preset", "unknown preset \"\(p)\"; known: \(ModelRegistry.presetNames.joined(separator: ", "))")
            }
        case (nil, .some(let ls)):
            guard !ls.isEmpty else { throw ConfigError(path: "model.layers", "must not be empty") }
            for (i, l) in ls.enumerated() { try l.validate(at: "model.layers[\(i)]", isLast: i == ls.count - 1) }
            let n = ls.count - 1
            guard let last = ls.last, last.kind == .dense,
                last.activation == .softmax || last.activation == .sigmoid
            else {
                throw ConfigError(path: "model.layers[\(n)]", "the last layer must be dense with \"softmax\" or \"sigmoid\"")
            }
            if last.activation == .sigmoid && last.units != 1 {
                throw ConfigError(path: "model.layers[\(n)].units", "a sigmoid output has 1 unit, got \(last.units ?? 0)")
            }
        }
        if let s = initScale, !(s > 0) { throw ConfigError(path: "model.init_scale", "must be > 0, got \(s)") }
    }
}

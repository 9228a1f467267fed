import Foundation
import Schema

/// What the trajectory recorder writes (`trajectories.csv`, `layer-trajectories.csv`).
public struct RecordingConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        ("enabled", "write trajectories.csv and layer-trajectories.csv"),
        ("every", "record every this often"),
        ("samples_per_layer", "weights sampled per layer (all when the layer has fewer)"),
        ("stratify", "sample one weight per stratum of initial |w| (else uniformly)"),
        ("indices", "explicit flat row-major indices per layer (`{\"fc1\": [0, 17]}`) instead of sampling"),
        ("layers", "layers to record (empty: every prunable layer)"),
    ]
    /// Record at all.
    public var enabled: Bool
    /// Record every this often (default every 50 optimizer steps: a few percent of a LeNet-300-100
    /// step's time, see experiments/bench_recording.py).
    public var every: Duration
    /// Weights sampled per layer (stratified by initial magnitude unless `stratify` is false).
    public var samplesPerLayer: Int
    public var stratify: Bool
    /// Explicit flat (row-major) indices per layer (`{"fc1": [0, 17]}`), instead of sampling.
    public var indices: [String: [Int]]
    /// Layers to record (empty: every prunable layer).
    public var layers: [String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, every, samplesPerLayer = "samples_per_layer", stratify, indices, layers
    }

    static func defaults() throws -> RecordingConfig {
        try JSONDecoder().decode(RecordingConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: false)
        every = try c.value(.every, default: Duration(50, .steps))
        samplesPerLayer = try c.value(.samplesPerLayer, default: 100)
        stratify = try c.value(.stratify, default: true)
        indices = try c.value(.indices, default: [:])
        layers = try c.value(.layers, default: [])
    }

    public func validate(at path: String = "recording") throws {
        if every.amount <= 0 { throw ConfigError(path: "recording.every", "must be positive, got \(every)") }
        if samplesPerLayer < 0 { throw ConfigError(path: "recording.samples_per_layer", "must be >= 0, got \(samplesPerLayer)") }
        for (layer, idx) in indices where idx.contains(where: { $0 < 0 }) {
            throw ConfigError(path: "recording.indices.\(layer)", "indices must be >= 0")
        }
    }
}

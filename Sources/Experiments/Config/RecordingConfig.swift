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
        ("format", "`csv`: sampled weights in trajectories.csv; `hdf5`: also every weight of the recorded layers in trajectories.h5"),
        ("flush_records", "(hdf5) flush trajectories.h5 to disk every this many records"),
        ("store_samples", "(hdf5) store a seeded uniform sample of this many weights per layer in trajectories.h5 (0: every weight)"),
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
    /// Where trajectories go: `csv` (sampled weights, `trajectories.csv`) or `hdf5` (the same,
    /// plus every weight of every recorded layer in `trajectories.h5`).
    public var format: TrajectoryFormat
    /// (hdf5) Records between flushes of `trajectories.h5` (default 50); a killed run keeps every
    /// record up to the last flush.
    public var flushRecords: Int
    /// (hdf5) Weights per layer in `trajectories.h5`: a uniform sample from `seed ▶
    /// "recording.store.<layer>"` of this many (0: every weight; a layer with fewer stores all).
    public var storeSamples: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, every, samplesPerLayer = "samples_per_layer", stratify, indices, layers, format
        case flushRecords = "flush_records", storeSamples = "store_samples"
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
        format = try c.value(.format, default: .csv)
        flushRecords = try c.value(.flushRecords, default: 50)
        storeSamples = try c.value(.storeSamples, default: 0)
    }

    public func validate(at path: String = "recording") throws {
        if every.amount <= 0 { throw ConfigError(path: "recording.every", "must be positive, got \(every)") }
        if samplesPerLayer < 0 { throw ConfigError(path: "recording.samples_per_layer", "must be >= 0, got \(samplesPerLayer)") }
        if storeSamples < 0 { throw ConfigError(path: "recording.store_samples", "must be >= 0 (0: every weight), got \(storeSamples)") }
        if flushRecords < 1 { throw ConfigError(path: "recording.flush_records", "must be >= 1, got \(flushRecords)") }
        for (layer, idx) in indices where idx.contains(where: { $0 < 0 }) {
            throw ConfigError(path: "recording.indices.\(layer)", "indices must be >= 0")
        }
    }
}

/// The trajectory store's format (`recording.format`).
public enum TrajectoryFormat: String, Codable, CaseIterable, Sendable {
    case csv, hdf5
}

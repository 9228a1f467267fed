import Foundation
import Schema

/// TensorBoard event files in the run folder (`tb/events.out.tfevents.<time>.<host>`).
public struct TensorBoardConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        (
            "enabled",
            "write `tb/` event files: the scalars of metrics.csv, sparsity overall and per layer (at evaluations and every pruning event), train FLOPs, wall seconds, histograms, the run's HParams session, with recording each sampled weight's value"
        ),
        ("histograms", "histograms of each layer's live weights (and the criterion's statistics, what each check pruned)"),
        ("histograms_every", "histograms at the first test evaluation at least this long after the previous ones"),
        ("buckets", "equal-width buckets per histogram"),
    ]
    /// Write event files at all (on by default: about 0.15% of a dense LeNet-300-100 run and 2.7%
    /// of a `linear` one, results/recording-cost.md).
    public var enabled: Bool
    public var histograms: Bool
    public var histogramsEvery: Duration
    public var buckets: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, histograms, histogramsEvery = "histograms_every", buckets
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: true)
        histograms = try c.value(.histograms, default: true)
        histogramsEvery = try c.value(.histogramsEvery, default: Duration(1, .epochs))
        buckets = try c.value(.buckets, default: 30)
    }

    public func validate(at path: String) throws {
        if histogramsEvery.amount <= 0 {
            throw ConfigError(path: child(path, "histograms_every"), "must be positive, got \(histogramsEvery)")
        }
        if buckets < 1 || buckets > 10_000 { throw ConfigError(path: child(path, "buckets"), "must be in 1...10000, got \(buckets)") }
    }
}

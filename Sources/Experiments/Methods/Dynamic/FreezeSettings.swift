import Foundation
import Schema

/// `pruning.dynamic.freeze`: extrapolate-and-freeze. From `start`, every `every`, a live weight
/// whose recent trajectory is confidently straight (R² of its fitted line over the last `window`
/// statistics updates at least `r2`) is moved to its end-of-training value predicted in
/// learning-rate time (`lrtime`'s prediction) and frozen there: no gradient, no optimizer
/// state, no update, left out of the weight-gradient kernels and of `train_flops`. At most
/// `max_fraction` of a layer's live weights are frozen. Needs the SGD optimizer.
public struct FreezeSettings: ConfigSection {
    public var enabled: Bool
    public var start: Duration
    public var every: Duration
    public var r2: Double
    public var maxFraction: Double
    public var statsEvery: Duration
    public var window: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, start, every, r2, maxFraction = "max_fraction", statsEvery = "stats_every", window
    }

    public static let keyHelp: [(key: String, help: String)] = [
        ("enabled", "move confidently predictable weights to their predicted end value and stop training them"),
        ("start", "first freeze check (`1ep`, `500it`)"),
        ("every", "freeze check every this often"),
        ("r2", "frozen when R² of the weight's fitted line is at least this (0-1]"),
        ("max_fraction", "at most this fraction of a layer's live weights frozen (0-1]"),
        ("stats_every", "update the trajectory statistics every this often"),
        ("window", "effective length of the exponential window, in statistics updates"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: false)
        start = try c.value(.start, default: Duration(1, .epochs))
        every = try c.value(.every, default: Duration(1, .epochs))
        r2 = try c.value(.r2, default: 0.95)
        maxFraction = try c.value(.maxFraction, default: 0.5)
        statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
        window = try c.value(.window, default: 20)
    }

    public static func defaults() throws -> FreezeSettings { try JSONDecoder().decode(FreezeSettings.self, from: Data("{}".utf8)) }

    public func validate(at path: String) throws {
        if every.amount <= 0 { throw ConfigError(path: child(path, "every"), "must be positive, got \(every)") }
        if statsEvery.amount <= 0 { throw ConfigError(path: child(path, "stats_every"), "must be positive, got \(statsEvery)") }
        if window < 1 { throw ConfigError(path: child(path, "window"), "must be >= 1, got \(window)") }
        if !(r2 > 0 && r2 <= 1) { throw ConfigError(path: child(path, "r2"), "must be in (0, 1], got \(r2)") }
        if !(maxFraction > 0 && maxFraction <= 1) {
            throw ConfigError(path: child(path, "max_fraction"), "must be in (0, 1], got \(maxFraction)")
        }
    }
}

import Foundation
import Schema

/// Overflow-checked step counts: every length and period of a config, in optimizer steps, must
/// be at most `limit` once the epoch length is known.
///
/// `training.epochs=9223372036854775807` or `eval_every=1000000000000000000ep` multiplied by the
/// steps per epoch used to trap on overflow (a crash, not an error). `limit` is 2^40 steps
/// (35 years at 1,000 steps a second), far below `Int.max`, so the sums and products the run
/// forms later (training + `rounds` × retraining, a step plus a period) cannot overflow either.
public enum StepBudget {
    public static let limit = 1 << 40

    /// The configured training length in steps (`training.steps`, else `epochs` × `perEpoch`),
    /// after checking every duration in the config; throws a `ConfigError` naming the key.
    public static func plannedSteps(_ config: ExperimentConfig, perEpoch: Int) throws -> Int {
        let t = config.training
        try checkDurations(in: config, perEpoch: perEpoch)
        if t.steps > 0 {
            guard t.steps <= limit else { throw tooMany("training.steps", "\(t.steps)", steps: Double(t.steps)) }
            return t.steps
        }
        let (steps, overflow) = t.epochs.multipliedReportingOverflow(by: perEpoch)
        guard !overflow, steps <= limit else {
            throw tooMany("training.epochs", "\(t.epochs) epochs of \(perEpoch) steps", steps: Double(t.epochs) * Double(perEpoch))
        }
        return steps
    }

    /// Checks each duration string (`"2ep"`, `"500it"`) under `training`, `pruning` and
    /// `recording` converts to at most `limit` steps.
    public static func checkDurations(in config: ExperimentConfig, perEpoch: Int) throws {
        let json = try JSONSerialization.jsonObject(with: ConfigLoader.canonicalJSON(config))
        guard let root = json as? [String: Any] else { return }
        for section in ["training", "pruning", "recording"] {
            if let value = root[section] { try walk(value, path: section, perEpoch: perEpoch) }
        }
    }

    private static func walk(_ value: Any, path: String, perEpoch: Int) throws {
        switch value {
        case let dict as [String: Any]:
            for (k, v) in dict { try walk(v, path: child(path, k), perEpoch: perEpoch) }
        case let list as [Any]:
            for (i, v) in list.enumerated() { try walk(v, path: "\(path)[\(i)]", perEpoch: perEpoch) }
        case let s as String:
            guard let d = try? Duration(parsing: s) else { return }
            let perUnit = d.unit == .epochs ? perEpoch : 1
            let (steps, overflow) = d.amount.multipliedReportingOverflow(by: perUnit)
            if overflow || steps > limit {
                let what = d.unit == .epochs ? "\(d) (\(perEpoch) steps per epoch)" : "\(d)"
                throw tooMany(path, what, steps: Double(d.amount) * Double(perUnit))
            }
        default:
            return
        }
    }

    private static func tooMany(_ path: String, _ what: String, steps: Double) -> ConfigError {
        ConfigError(path: path, "\(what) is \(String(format: "%.3g", steps)) optimizer steps, more than the 2^40 a run can count")
    }
}

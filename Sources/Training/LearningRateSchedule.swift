#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

/// Learning rate as a function of the optimizer step (0-based).
///
/// `constant`: `base`. `step`: `base * gamma^floor(step / every)`. `cosine`:
/// `min + (base - min) * (1 + cos(pi * step / total)) / 2`, held at `min` after `total`.
/// Each may be preceded by a linear warm-up from `base / warmup` to `base` over `warmup` steps.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case constant
        case step(every: Int, gamma: Double)
        case cosine(total: Int, minimum: Double)
    }
    public var base: Double
    public var kind: Kind
    public var warmupSteps: Int

    public init(base: Double, kind: Kind = .constant, warmupSteps: Int = 0) {
        self.base = base
        self.kind = kind
        self.warmupSteps = warmupSteps
    }

    public func learningRate(atStep step: Int) -> Double {
        if warmupSteps > 0 && step < warmupSteps {
            return base * Double(step + 1) / Double(warmupSteps)
        }
        switch kind {
        case .constant:
            return base
        case .step(let every, let gamma):
            return base * pow(gamma, Double(step / max(every, 1)))
        case .cosine(let total, let minimum):
            guard total > 0, step < total else { return minimum }
            return minimum + (base - minimum) * (1 + cos(Double.pi * Double(step) / Double(total))) / 2
        }
    }
}

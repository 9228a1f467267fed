import TensorCore

/// How initial weights are drawn; biases start at 0, other non-prunable parameters at their
/// `initialValue` (batch norm's scale at 1).
///
/// `he`: normal with std `sqrt(2 / fan_in)` (He et al. 2015). `xavier`: uniform in
/// `±sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio 2010). `normal`: normal with std `scale`,
/// or `1 / sqrt(fan_in)` when no scale is given (the cat-vs-non-cat course's
/// `randn(n, m) / sqrt(m)`).
public enum Initializer: Sendable, Equatable {
    case he
    case xavier
    case normal(scale: Double?)

    public func initialize(_ model: Sequential, rng: inout RandomSource) {
        for layer in model.layers {
            for p in layer.parameters {
                if !p.isPrunable {
                    p.value.fill(p.initialValue)
                    continue
                }
                let fanOut = p.value.shape[0]
                let fanIn = p.value.count / fanOut
                p.value.scalars.withUnsafeMutableBufferPointer { w in
                    switch self {
                    case .he:
                        let std = (2.0 / Double(fanIn)).squareRoot()
                        for i in 0..<w.count { w[i] = Float(rng.nextNormal() * std) }
                    case .xavier:
                        let a = (6.0 / Double(fanIn + fanOut)).squareRoot()
                        for i in 0..<w.count { w[i] = Float((rng.nextUniform() * 2 - 1) * a) }
                    case .normal(let scale):
                        let std = scale ?? 1 / Double(fanIn).squareRoot()
                        for i in 0..<w.count { w[i] = Float(rng.nextNormal() * std) }
                    }
                }
                p.applyMask()
            }
        }
    }
}

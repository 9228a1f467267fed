import TensorCore
import NN

/// How a layer's (or the whole scope's) scores become a count of weights to prune.
///
/// - `std(q)`: prune every surviving weight with `score <= q * sigma`, sigma the population
///   standard deviation of the surviving weights' values (Han et al. 2015, section 3: "the
///   pruning threshold is chosen as a quality parameter multiplied by the standard deviation of
///   a layer's weights"). One surviving weight has sigma 0: only an exact 0 would go.
/// - `percentile(p)`: prune surviving weights with `score < P_p`, `P_p` the p-th percentile of
///   the surviving scores with numpy's linear interpolation (the carvnocar course pipeline's
///   rule). A layer with no survivors prunes nothing (that pipeline's code crashed there); one
///   survivor is never pruned (it equals its own percentile).
/// - `sparsity(s)`: prune exactly as many as are needed for the scope to reach sparsity `s`,
///   `floor(total · s)` pruned in all, in integer arithmetic (`ExactCount`); never un-prunes;
///   if already there, nothing.
public enum ThresholdRule: Equatable, Sendable {
    case std(q: Double)
    case percentile(Double)
    case sparsity(Double)
}

/// Where a rule is applied: per layer, or once over all pruned layers' pooled scores.
public enum PruningScope: String, Codable, Sendable, CaseIterable {
    case layer, global
}

/// One pruning step on a set of parameters: scores, a rule per layer, a scope, exact selection.
public struct MagnitudePruner {
    /// Rule for each parameter name (layer-wise scope) or the one rule (global scope).
    public var rules: [String: ThresholdRule]
    public var scope: PruningScope

    public init(rules: [String: ThresholdRule], scope: PruningScope) {
        self.rules = rules
        self.scope = scope
    }

    /// New masks for `parameters` from `scores` (same layouts; higher means more important).
    /// Already-masked entries stay masked: masks only shrink.
    public func masks(for parameters: [Parameter], scores: [[Float]]) -> [String: Tensor] {
        precondition(parameters.count == scores.count)
        var result: [String: Tensor] = [:]
        switch scope {
        case .layer:
            for (p, s) in zip(parameters, scores) {
                guard let rule = rules[p.name] else { continue }
                let alive = MagnitudePruner.alive(p)
                let k = MagnitudePruner.count(rule: rule, scores: [s], values: [p.value.scalars], alive: [alive])
                var mask = p.keptMask
                for i in Selection.lowest(s, alive: alive, count: k) { mask.scalars[i] = 0 }
                result[p.name] = mask
            }
        case .global:
            let chosen = parameters.indices.filter { rules[parameters[$0].name] != nil }
            guard let rule = chosen.first.flatMap({ rules[parameters[$0].name] }) else { return [:] }
            let alives = chosen.map { MagnitudePruner.alive(parameters[$0]) }
            let k = MagnitudePruner.count(
                rule: rule, scores: chosen.map { scores[$0] },
                values: chosen.map { parameters[$0].value.scalars }, alive: alives)
            let pooled = chosen.flatMap { scores[$0] }
            let picked = Selection.lowest(pooled, alive: alives.flatMap { $0 }, count: k)
            var offsets: [Int] = []
            var o = 0
            for i in chosen { offsets.append(o); o += scores[i].count }
            var masks = chosen.map { parameters[$0].keptMask }
            for flat in picked {
                let layer = offsets.lastIndex { $0 <= flat }!
                masks[layer].scalars[flat - offsets[layer]] = 0
            }
            for (j, i) in chosen.enumerated() { result[parameters[i].name] = masks[j] }
        }
        return result
    }

    /// Which entries of `p` are unmasked.
    public static func alive(_ p: Parameter) -> [Bool] {
        guard let m = p.mask else { return [Bool](repeating: true, count: p.value.count) }
        return m.scalars.map { $0 != 0 }
    }

    /// How many surviving entries a rule prunes over pooled layers.
    static func count(rule: ThresholdRule, scores: [[Float]], values: [[Float]], alive: [[Bool]]) -> Int {
        var liveScores: [Float] = []
        var liveValues: [Float] = []
        var total = 0
        for (s, (v, a)) in zip(scores, zip(values, alive)) {
            total += a.count
            for i in 0..<a.count where a[i] {
                liveScores.append(s[i])
                liveValues.append(v[i])
            }
        }
        let n = liveScores.count
        guard n > 0 else { return 0 }
        switch rule {
        case .std(let q):
            let mean = liveValues.reduce(0.0) { $0 + Double($1) } / Double(n)
            let variance = liveValues.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
            let threshold = q * variance.squareRoot()
            return liveScores.reduce(0) { $0 + (Double($1) <= threshold ? 1 : 0) }
        case .percentile(let p):
            guard let threshold = Selection.percentile(liveScores, p) else { return 0 }
            return liveScores.reduce(0) { $0 + (Double($1) < threshold ? 1 : 0) }
        case .sparsity(let target):
            let keep = ExactCount.kept(total, sparsity: target)
            return max(0, n - keep)
        }
    }
}

/// Weight-magnitude scores `|w|` (Han et al. 2015).
public enum MagnitudeScore {
    public static func scores(_ p: Parameter) -> [Float] { p.value.scalars.map { abs($0) } }
}

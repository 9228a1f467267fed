import Foundation
import NN
import Schema
import TensorCore

/// A weight that moves, then freezes: its updates fitted as a geometric decay, which is an
/// exponential approach to a plateau, predict where it settles; the smallest predicted |w| go
/// first.
///
/// With `u_k` the change between records k-1 and k (records every `stats_every`), the ratio of
/// successive updates is fitted by least squares over an exponential window of `window`
/// records (`rho = 1 - 1/window` per record):
///
///     C = rho C + u_k u_(k-1),   P = rho P + u_(k-1)^2,   r = C / P
///
/// For `0 < r < 1` the remaining updates sum to `u_k r / (1 - r)` (`r` capped at `max_ratio`),
/// so `plateau = w + u_k r / (1 - r)` and the score is `|plateau|`: the weight is *chosen by its
/// trajectory*. Otherwise (updates that alternate in sign, `r <= 0`, or do not shrink, `r >= 1`)
/// no plateau is in sight and the weight scores its current `|w|`, chosen by magnitude. The fit
/// needs three records (two updates); before, a check prunes nothing. Memory: four floats per
/// weight. A pruned weight's state is reset to zero.
public final class PlateauCriterion: Criterion {
    public struct Settings: ConfigSection {
        public var statsEvery: Duration
        public var window: Int
        public var maxRatio: Double

        enum CodingKeys: String, CodingKey, CaseIterable { case statsEvery = "stats_every", window, maxRatio = "max_ratio" }

        public static let keyHelp: [(key: String, help: String)] = [
            ("stats_every", "update the trajectory statistics every this often (`10it`, `1ep`)"),
            ("window", "effective length of the exponential window, in statistics updates"),
            ("max_ratio", "cap on the fitted ratio of successive updates, in (0, 1): at most 1/(1-max_ratio)-1 more updates"),
        ]

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            statsEvery = try c.value(.statsEvery, default: Duration(10, .steps))
            window = try c.value(.window, default: 20)
            maxRatio = try c.value(.maxRatio, default: 0.98)
        }

        public func validate(at path: String) throws {
            try validateWindow(statsEvery: statsEvery, window: window, at: path)
            if !(maxRatio > 0 && maxRatio < 1) { throw ConfigError(path: child(path, "max_ratio"), "must be in (0, 1), got \(maxRatio)") }
        }
    }

    public static let name = "plateau"
    public static let summary = "|w| where it settles: successive updates fitted as a geometric decay (moves, then freezes)"
    public static let reportColumns = ["mean_ratio"]
    public static let scoresFromHistory = true
    let parameters: [Parameter]
    let every: Int
    let rho: Float
    let maxRatio: Float
    let window: Int
    /// Per parameter, four sections of `count` floats: previous value, last update, C, P.
    private var state: [[Float]]
    private(set) var records = 0

    public init(settings: Settings, context: CriterionContext) {
        parameters = context.parameters
        every = max(1, settings.statsEvery.steps(perEpoch: context.stepsPerEpoch))
        window = settings.window
        rho = Float(1 - 1 / Double(settings.window))
        maxRatio = Float(settings.maxRatio)
        state = context.parameters.map { [Float](repeating: 0, count: 4 * $0.value.count) }
    }

    public func observe(step: Int) {
        guard step % every == 0 else { return }
        let first = records == 0
        records += 1
        for (k, p) in parameters.enumerated() {
            p.value.scalars.withUnsafeBufferPointer { w in
                if let mask = p.mask {
                    mask.scalars.withUnsafeBufferPointer { m in update(k, w, m, first: first) }
                } else {
                    update(k, w, nil, first: first)
                }
            }
        }
    }

    /// One record of parameter `k`: values `w`, mask `m` (nil: dense).
    private func update(_ k: Int, _ w: UnsafeBufferPointer<Float>, _ m: UnsafeBufferPointer<Float>?, first: Bool) {
        let n = w.count
        guard n > 0 else { return }
        let fit = records >= 3
        state[k].withUnsafeMutableBufferPointer { s in
            let prev = s.baseAddress!, last = prev + n, c = prev + 2 * n, pp = prev + 3 * n
            for j in 0..<n {
                if let m, m[j] == 0 {
                    (prev[j], last[j], c[j], pp[j]) = (0, 0, 0, 0)
                    continue
                }
                if first {
                    prev[j] = w[j]
                    continue
                }
                let u = w[j] - prev[j]
                if fit {
                    c[j] = rho * c[j] + u * last[j]
                    pp[j] = rho * pp[j] + last[j] * last[j]
                }
                last[j] = u
                prev[j] = w[j]
            }
        }
    }

    public var trajectoryWindow: TrajectoryWindow? { TrajectoryWindow(records: records, needed: 3, full: max(3, window)) }

    /// The fitted ratio of parameter `index`'s weights (0 where undefined).
    public func ratios(index: Int) -> [Float] {
        let n = parameters[index].value.count
        return state[index].withUnsafeBufferPointer { s in
            (0..<n).map { j in s[3 * n + j] > 0 ? s[2 * n + j] / s[3 * n + j] : 0 }
        }
    }

    /// Predicted plateau values, and whether each came from a plateau fit (0 < r < 1).
    public func plateau(index: Int) -> (values: [Float], fitted: [Bool]) {
        let n = parameters[index].value.count
        let r = ratios(index: index)
        let w = parameters[index].value.scalars
        var values = [Float](repeating: 0, count: n), fitted = [Bool](repeating: false, count: n)
        state[index].withUnsafeBufferPointer { s in
            for j in 0..<n {
                guard w[j] != 0, records >= 3, r[j] > 0, r[j] < 1 else {
                    values[j] = w[j]
                    continue
                }
                let q = min(r[j], maxRatio)
                values[j] = w[j] + s[n + j] * q / (1 - q)
                fitted[j] = true
            }
        }
        return (values, fitted)
    }

    public func scores(index: Int) -> [Float] { plateau(index: index).values.map(abs) }

    public func chosenByTrajectory(index: Int, pruned: [Int]) -> Int? { countFlagged(plateau(index: index).fitted, pruned) }

    public func report(index: Int, pruned: [Int]) -> [Double?] { [meanAt(ratios(index: index), pruned)] }

    public func statistics(index: Int) -> [(name: String, values: [Float])] {
        [("ratio", ratios(index: index)), ("plateau", plateau(index: index).values)]
    }

    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/records", records)
        saveAccumulators(state, into: archive, prefix: "\(prefix)/state")
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        records = try archive.int("\(prefix)/records")
        let s = try restoreAccumulators(from: archive, prefix: "\(prefix)/state")
        guard s.count == state.count, zip(s, state).allSatisfy({ $0.count == $1.count }) else {
            throw StateArchiveError.shape("\(prefix)/state")
        }
        state = s
    }
}

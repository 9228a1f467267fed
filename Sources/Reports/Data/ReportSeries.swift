import Charts
import Experiments
import Foundation
import Sweeps

/// Time series read out of one run folder: test accuracy, per-layer sparsity, cumulative FLOPs.
extension ReportRun {
    /// `metrics.csv` rows of `split`/`metric` as (step, value), in file order.
    func metric(_ split: String, _ name: String) -> [(step: Int, value: Double)] {
        guard let m = metrics, let si = m.index("split"), let mi = m.index("metric"), let st = m.index("step"), let vi = m.index("value")
        else { return [] }
        return m.rows.compactMap { r in
            guard r[si] == split, r[mi] == name, let s = Int(r[st]), let v = Double(r[vi]) else { return nil }
            return (s, v)
        }
    }

    /// The layers with weights, in model order (`layers.csv`), with their weight counts.
    var layerWeights: [(layer: String, weights: Double)] {
        guard let l = layers, let names = try? l.strings("layer"), let w = try? l.numbers("weights") else { return [] }
        return Array(zip(names, w)).map { (layer: $0.0, weights: $0.1) }
    }

    /// Per layer, its sparsity over training as (step, sparsity) points, from the finest source the
    /// folder has for that layer: `layer-trajectories.csv` (every record of a recorded layer), else
    /// `events.csv` (every check), else `rounds.csv` (every Han round), else 0 throughout (dense).
    /// Also returns the source files used, in that order.
    func layerSparsity() -> (series: [String: [(Double, Double)]], source: String) {
        let names = layerWeights.map(\.layer)
        let end = number("steps") ?? 0
        var sources: [(String, [String: [(Double, Double)]])] = []
        if let t = layerTrajectories, let s = try? t.numbers("step"), let l = try? t.strings("layer"), let v = try? t.numbers("sparsity") {
            sources.append((TrajectoryRecorder.layersFile, grouped(zip(l, zip(s, v)).map { ($0.0, $0.1.0, $0.1.1) })))
        }
        if let e = events, let s = try? e.numbers("step"), let l = try? e.strings("layer"), let v = try? e.numbers("sparsity_after") {
            let g = grouped(zip(l, zip(s, v)).map { ($0.0, $0.1.0, $0.1.1) })
            sources.append(("events.csv", g.mapValues { [(0, 0)] + $0 + [(end, $0.last?.1 ?? 0)] }))
        }
        if let r = rounds {
            let steps = roundSteps.dropLast().map(Double.init)
            var g: [String: [(Double, Double)]] = [:]
            for n in names {
                guard let after = try? r.numbers("\(n)_sparsity_after") else { continue }
                g[n] = [(0, 0)] + zip(steps, after).map { ($0, $1) } + [(end, after.last ?? 0)]
            }
            sources.append(("rounds.csv", g))
        }
        sources.append(("summary.csv", Dictionary(uniqueKeysWithValues: names.map { ($0, [(0.0, 0.0), (end, 0.0)]) })))
        var out: [String: [(Double, Double)]] = [:], used: [String] = []
        for n in names {
            guard let (file, series) = sources.first(where: { $0.1[n] != nil }) else { continue }
            out[n] = series[n]
            if !used.contains(file) { used.append(file) }
        }
        return (out, used.joined(separator: ", "))
    }

    private func grouped(_ rows: [(String, Double, Double)]) -> [String: [(Double, Double)]] {
        var g: [String: [(Double, Double)]] = [:]
        for (l, s, v) in rows { g[l, default: []].append((s, v)) }
        return g
    }

    /// Fraction of all layers' weights still live at each step 1...steps (step functions of the
    /// per-layer sparsity, weighted by the layers' weight counts).
    func liveFraction(steps: Int) -> [Double] {
        let sparsity = layerSparsity().series
        let weights = layerWeights
        let total = weights.reduce(0) { $0 + $1.weights }
        guard steps > 0, total > 0 else { return [Double](repeating: 1, count: max(steps, 0)) }
        var live = [Double](repeating: 0, count: steps)
        for (layer, w) in weights {
            let points = sparsity[layer] ?? []
            var k = 0, current = 0.0
            for t in 1...steps {
                while k < points.count, points[k].0 < Double(t) {
                    current = points[k].1
                    k += 1
                }
                live[t - 1] += w / total * (1 - current)
            }
        }
        return live
    }

    /// Cumulative training FLOPs at each of `steps`, and how they were obtained.
    ///
    /// With a `train_flops` column in `metrics.csv` (rows of the test accuracy), its values.
    /// Otherwise estimated from summary.csv: a step costs `a + b * live(t)` FLOPs, live(t) the
    /// fraction of weights unmasked (`liveFraction`), with a and b solved so that the steps sum
    /// to the summary's `train_flops` and, all live, to `dense_train_flops`. Nil when neither
    /// is available.
    func cumulativeFlops(at steps: [Int]) -> (values: [Double], measured: Bool)? {
        if let m = metrics, m.has("train_flops"), let st = m.index("step"), let fi = m.index("train_flops") {
            var byStep: [Int: Double] = [:]
            for r in m.rows { if let s = Int(r[st]), let f = Double(r[fi]) { byStep[s] = f } }
            if steps.allSatisfy({ byStep[$0] != nil }) { return (steps.map { byStep[$0]! }, true) }
        }
        guard let f = number("train_flops"), let d = number("dense_train_flops"), let total = number("steps"), total > 0 else { return nil }
        let n = Int(total)
        let live = liveFraction(steps: n)
        let sumLive = live.reduce(0, +)
        var prefix = [Double](repeating: 0, count: n + 1)
        for t in 0..<n { prefix[t + 1] = prefix[t] + live[t] }
        let T = Double(n)
        let b = abs(T - sumLive) < 1e-9 ? 0 : (d - f) / (T - sumLive)
        let a = abs(T - sumLive) < 1e-9 ? f / T : d / T - b
        return (
            steps.map { s in
                let c = min(max(s, 0), n); return a * Double(c) + b * prefix[c]
            }, false
        )
    }
}

/// Mean and spread over seeds of series that share x values.
enum SeedAggregate {
    /// For each x present in every series: (x, mean, min, max) of the ys at that x.
    /// A single series gives its own points with a zero-width band.
    static func band(_ series: [[(Double, Double)]]) -> [(x: Double, mean: Double, lo: Double, hi: Double)] {
        guard let first = series.first else { return [] }
        let maps = series.map { Dictionary($0.map { ($0.0, $0.1) }, uniquingKeysWith: { _, b in b }) }
        return first.compactMap { p in
            let ys = maps.compactMap { $0[p.0] }
            guard ys.count == maps.count else { return nil }
            return (p.0, Statistics.mean(ys), ys.min()!, ys.max()!)
        }
    }
}

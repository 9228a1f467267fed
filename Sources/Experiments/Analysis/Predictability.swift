import Foundation
import HDF5Support
import NN
import Pruning
import Schema
import TensorCore

/// What weight trajectories predict about the end of training, measured on a run recorded with
/// `recording.format: hdf5` (every weight, or `recording.store_samples` of each layer).
///
/// At every evaluated record `t` and for every layer, each predictor scores the layer's stored
/// weights from what was known at `t`, and is compared with the weights' final magnitudes
/// (the last record, the end of training):
///
/// - **recall**: with `k = ExactCount.kept(n, sparsity)` (the layer's target density), the
///   fraction of the final kept set (the k largest final |w|) that the predictor's kept set at
///   `t` (its k highest scores) contains. Both sets come from `Selection.lowest` pruning the
///   `n - k` lowest, so ties break as in a pruning run. A predictor as good as chance scores
///   `k / n`; a perfect one 1.
/// - **spearman**: Spearman's rank correlation between the scores and the final |w| (average
///   ranks for ties; 0 when either side is constant).
///
/// **Predictors.** Every registered criterion whose scores rest only on the weights' history
/// (`Criterion.scoresFromHistory`: `magnitude` is the current |w|, `lrtime` the straight line
/// in learning-rate time to the end of training, `linear`, `stalled`, `plateau`, `movement`,
/// `taylor`), replayed record by record on the stored values and gradients with the run's
/// settings for it (`pruning.dynamic.<name>` in its config, else the defaults), the run's
/// learning-rate schedule and steps; a criterion observes only records whose step is a
/// multiple of its `stats_every`, and gradient sums (`movement`, `taylor`) see the recorded
/// steps only (every step when recorded with `every: 1it`). Besides them, plain straight lines
/// `|w + slope * H|` fitted over the last `lineWindow` records (`TrajectoryStatistics`) for each
/// fixed horizon H (`line+<H>`), and to the end of training in step time (`line+end`).
public enum Predictability {
    /// One evaluated record of one layer and predictor.
    public struct Row: Equatable, Sendable {
        public var step: Int
        public var epoch: Double
        public var layer: String
        public var predictor: String
        public var kept: Int
        public var weights: Int
        public var recall: Double
        public var spearman: Double
    }

    public static let columns = ["step", "epoch", "layer", "predictor", "weights", "kept", "recall", "spearman"]
    /// Records of the straight-line predictors' window.
    public static let lineWindow = 20

    /// A run's stored trajectories: steps, and per layer the stored indices and records.
    public struct Store {
        public var steps: [Int]
        public var layers: [Layer]

        public struct Layer {
            public var name: String
            /// Stored weights per record.
            public var count: Int
            public var values: [Float]
            public var grads: [Float]
            /// The step each stored weight was first masked at, -1 while live.
            public var prunedStep: [Int64]

            public func row(_ r: Int, of a: [Float]) -> ArraySlice<Float> { a[(r * count)..<((r + 1) * count)] }
        }

        /// Reads `trajectories.h5`; throws `RunError` naming the file.
        public static func read(_ url: URL) throws -> Store {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw RunError("\(url.path): no such file (record with recording.enabled=true and recording.format=hdf5)")
            }
            do {
                let f = try HDF5File(path: url.path)
                let steps = try f.readInt64s("steps").values.map(Int.init)
                var layers: [Layer] = []
                for name in try f.groupNames() where f.hasDataset("\(name)/value") {
                    let v = try f.readFloats("\(name)/value"), g = try f.readFloats("\(name)/grad")
                    let n = v.shape.last ?? 0
                    guard v.shape.count == 2, v.shape[0] >= steps.count, g.shape == v.shape else {
                        throw RunError("\(url.path): \(name)/value and grad do not hold \(steps.count) records")
                    }
                    let records = steps.count * n
                    layers.append(
                        Layer(
                            name: name, count: n, values: Array(v.values.prefix(records)), grads: Array(g.values.prefix(records)),
                            prunedStep: try f.readInt64s("\(name)/pruned_step").values))
                }
                guard steps.count >= 2, !layers.isEmpty else {
                    throw RunError("\(url.path): needs at least two records of at least one layer")
                }
                return Store(steps: steps, layers: layers)
            } catch let e as HDF5Error {
                throw RunError("\(url.path): \(e)")
            }
        }
    }

    /// What a run contributes besides its store: timing, schedule and the criteria's settings.
    public struct RunInfo {
        public var stepsPerEpoch: Int
        public var timeline: LearningRateTimeline
        /// Target sparsity per layer (for the kept sets).
        public var sparsity: (String) -> Double
        /// The run config's `pruning.dynamic` object, by criterion name.
        public var criterionSettings: [String: Any]
        public var seed: UInt64

        public init(
            stepsPerEpoch: Int, timeline: LearningRateTimeline, sparsity: @escaping (String) -> Double,
            criterionSettings: [String: Any] = [:], seed: UInt64 = 1
        ) {
            self.stepsPerEpoch = stepsPerEpoch
            self.timeline = timeline
            self.sparsity = sparsity
            self.criterionSettings = criterionSettings
            self.seed = seed
        }

        /// From a run folder's `config.json` and `summary.csv`; `sparsity` overrides the
        /// config's per-layer targets.
        public static func of(run: URL, sparsity: Double?) throws -> RunInfo {
            let configURL = run.appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configURL.path) else {
                throw RunError("\(run.path): not a PruneLab run folder (no config.json)")
            }
            let doc = try ConfigLoader.document(path: configURL.path)
            let config = try ConfigLoader.decode(doc)
            let numbers = try SummaryRow.numbers(in: run)
            guard let steps = numbers["steps"].map(Int.init), config.training.steps == 0, config.training.epochs > 0 else {
                throw RunError("\(run.path)/summary.csv: needs a finished run trained for training.epochs (not training.steps)")
            }
            let perEpoch = max(1, steps / config.training.epochs)
            let planned = try StepBudget.plannedSteps(config, perEpoch: perEpoch)
            let schedule = TrainingSession.learningRateSchedule(config.training, perEpoch: perEpoch, plannedSteps: planned)
            let dynamic = ((doc.object as? [String: Any])?["pruning"] as? [String: Any])?["dynamic"] as? [String: Any] ?? [:]
            let pruning = config.pruning
            return RunInfo(
                stepsPerEpoch: perEpoch,
                timeline: LearningRateTimeline(plannedSteps: planned) { schedule.learningRate(atStep: $0) },
                sparsity: { layer in sparsity ?? pruning.finalTarget(layer: layer) }, criterionSettings: dynamic, seed: config.seed)
        }
    }

    /// The predictor names `analyze` reports, in order.
    public static func predictorNames(horizons: [Duration]) -> [String] {
        CriterionRegistry.all.filter(\.scoresFromHistory).map(\.name) + horizons.map { "line+\($0)" } + ["line+end"]
    }

    /// Recall and rank correlation of every predictor at every record whose step is a multiple
    /// of `every` (and at the last record), layer by layer.
    public static func analyze(_ store: Store, _ info: RunInfo, every: Int, horizons: [Duration]) throws -> [Row] {
        let parameters = store.layers.map { l in
            Parameter(name: "\(l.name).weight", value: Tensor(shape: [1, l.count]), isPrunable: true)
        }
        let context = CriterionContext(
            parameters: parameters, stepsPerEpoch: info.stepsPerEpoch, rng: RandomSource(seed: info.seed),
            timeline: info.timeline)
        var criteria: [(String, AnyCriterion)] = []
        for entry in CriterionRegistry.all where entry.scoresFromHistory {
            let json = info.criterionSettings[entry.name] ?? [String: Any]()
            let data = try JSONSerialization.data(withJSONObject: json)
            let settings = try decodeSection(entry.settingsType, data, path: "pruning.dynamic.\(entry.name)")
            criteria.append((entry.name, try entry.make(settings: settings, context: context)))
        }
        let lines = store.layers.map { l in
            TrajectoryStatistics(count: l.count, window: lineWindow * max(1, store.steps[1] - store.steps[0]), horizon: 0)
        }
        let last = store.steps.count - 1
        let finalKept = store.layers.map { l -> (k: Int, set: [Bool]) in
            let final = l.row(last, of: l.values).map(abs)
            let k = ExactCount.kept(l.count, sparsity: info.sparsity(l.name))
            return (k, keptSet(Array(final), keep: k))
        }
        let finalRanks = store.layers.map { l in ranks(l.row(last, of: l.values).map(abs)) }
        var rows: [Row] = []
        for (r, step) in store.steps.enumerated() {
            for (i, l) in store.layers.enumerated() {
                let p = parameters[i]
                p.value = Tensor(shape: [1, l.count], scalars: Array(l.row(r, of: l.values)))
                p.grad = Tensor(shape: [1, l.count], scalars: Array(l.row(r, of: l.grads)))
                let masked = l.prunedStep.map { $0 >= 0 && Int64(step) >= $0 }
                p.setMask(masked.contains(true) ? Tensor(shape: [1, l.count], scalars: masked.map { $0 ? 0 : 1 }) : nil)
                lines[i].update(p.value, mask: p.mask, step: step)
            }
            if step > 0 { for (_, c) in criteria { c.observe(step: step) } }
            guard step % every == 0 || r == last else { continue }
            let epoch = Double(step) / Double(info.stepsPerEpoch)
            for (i, l) in store.layers.enumerated() {
                var scored: [(String, [Float])] = criteria.map { ($0.0, $0.1.scores(index: i)) }
                let w = parameters[i].value.scalars
                for h in horizons {
                    let steps = h.steps(perEpoch: info.stepsPerEpoch)
                    scored.append(("line+\(h)", zip(w, lines[i].extrapolated(horizon: steps)).map { $0 == 0 ? 0 : abs($1) }))
                }
                let toEnd = info.timeline.stepsRemaining(after: step)
                scored.append(("line+end", zip(w, lines[i].extrapolated(horizon: toEnd)).map { $0 == 0 ? 0 : abs($1) }))
                let (k, target) = finalKept[i]
                for (name, s) in scored {
                    let kept = keptSet(s, keep: k)
                    let hits = zip(kept, target).reduce(0) { $0 + ($1.0 && $1.1 ? 1 : 0) }
                    rows.append(
                        Row(
                            step: step, epoch: epoch, layer: l.name, predictor: name, kept: k, weights: l.count,
                            recall: k == 0 ? 1 : Double(hits) / Double(k), spearman: pearson(ranks(s), finalRanks[i])))
                }
            }
        }
        return rows
    }

    /// Which entries a selection keeping the `keep` highest scores keeps (`Selection.lowest`
    /// prunes the rest, with its tie-break).
    public static func keptSet(_ scores: [Float], keep: Int) -> [Bool] {
        var kept = [Bool](repeating: true, count: scores.count)
        let pruned = Selection.lowest(scores, alive: kept, count: scores.count - keep)
        for j in pruned { kept[j] = false }
        return kept
    }

    /// 1-based ranks, ties given their average rank.
    public static func ranks(_ x: [Float]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var r = [Double](repeating: 0, count: x.count)
        var a = 0
        while a < order.count {
            var b = a
            while b + 1 < order.count && x[order[b + 1]] == x[order[a]] { b += 1 }
            let mean = Double(a + b) / 2 + 1
            for q in a...b { r[order[q]] = mean }
            a = b + 1
        }
        return r
    }

    /// Pearson's correlation of `a` and `b` (0 when either is constant).
    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        guard a.count == b.count, a.count > 1 else { return 0 }
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb)
            saa += (x - ma) * (x - ma)
            sbb += (y - mb) * (y - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    /// A criterion's settings section from JSON, validated at `path`.
    static func decodeSection(_ type: any ConfigSection.Type, _ data: Data, path: String) throws -> any ConfigSection {
        let section = try JSONDecoder().decode(type, from: data)
        try section.validate(at: path)
        return section
    }
}

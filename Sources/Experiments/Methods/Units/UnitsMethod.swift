import Foundation
import Schema
import TensorCore
import NN
import Training
import Pruning

/// Unit pruning during training (`method` `units`): on a schedule from `ScheduleRegistry`, whole
/// neurons and filters are scored and the lowest leave the network at once (PruneTrain-style
/// compaction, `Compaction.removeUnits`): training goes on with a smaller dense network, so
/// `train_flops` and the seconds fall as units go. Artifacts: `events.csv` (one row per check and
/// layer), `model-compact.h5` and the `compact_*` columns as for `structured`.
///
/// Scores of unit `u` with incoming weights `w_u` (a weight row: a filter's `C·k·k` taps or a
/// neuron's inputs): `l1` `Σ|w|`, `l2` `√Σw²`, `trajectory` `√Σ ŵ²` with `ŵ = w + H·slope` each
/// weight's trajectory extrapolated `horizon` steps ahead (`TrajectoryStatistics`, window
/// `window`), and `ŵ = 0` where that line crosses zero within the horizon (sign of `ŵ` not that
/// of `w`): a unit whose weights head to zero, or stalled near it, scores low even while its
/// current weights are not the smallest. The schedule sees each layer in units: `total` the
/// units as built, `alive` those left, the final target `ratio`; at least one unit stays.
public final class UnitsMethod: PruningMethod, TrainingObserver {
    public static let name = "units"
    public static let summary =
        "whole neurons and filters removed on a schedule (magnitude or trajectory score), the network compacted as they go"
    let settings: UnitsSettings
    let session: TrainingSession
    let schedule: any Schedule
    /// Pruned layers by name, their units as built, and the kept indices into those.
    let names: [String]
    let original: [Int]
    var keptOriginal: [[Int]]
    /// Trajectory statistics of each pruned layer's weight (`trajectory` score only).
    var statistics: [TrajectoryStatistics]
    public private(set) var events = CSVTable(columns: [
        "step", "layer", "units", "removed", "mean_score_removed", "mean_score_kept",
    ])

    public static func arms(for base: ExperimentConfig) throws -> [MethodArm] {
        UnitsSettings.Score.allCases.map { s in
            MethodArm(
                name: "unit-\(s.rawValue)", overrides: ["pruning.method=units", "pruning.units.score=\(s.rawValue)"], isDefault: false)
        }
    }

    public init(settings: UnitsSettings, run: RunContext) throws {
        self.settings = settings
        session = run.session
        let model = session.model
        try StructuredPruner.checkCompactable(model, config: run.config, path: "pruning.units")
        let all = StructuredPruning.unitLayers(model)
        let output = all.last?.name
        let chosen = settings.layers ?? all.map(\.name).filter { $0 != output }
        for (i, n) in chosen.enumerated() where !all.contains(where: { $0.name == n }) || n == output {
            throw ConfigError(
                path: "pruning.units.layers[\(i)]",
                "\"\(n)\" is not a prunable hidden layer; hidden layers: \(all.map(\.name).filter { $0 != output }.joined(separator: ", "))"
            )
        }
        guard !chosen.isEmpty else { throw ConfigError(path: "pruning.units.layers", "the model has no hidden layers to prune") }
        names = chosen
        original = chosen.map { n in all.first { $0.name == n }!.units }
        keptOriginal = original.map { Array(0..<$0) }
        schedule = try ScheduleRegistry.entry(named: settings.schedule)!.make(
            settings: settings.scheduleSettings.value,
            context: ScheduleContext(stepsPerEpoch: session.stepsPerEpoch, plannedSteps: session.plannedSteps, section: "pruning.units"))
        statistics = []
        statistics = currentLayers().map {
            TrajectoryStatistics(count: $0.weight.value.count, window: settings.window, horizon: settings.horizon)
        }
    }

    public var label: RunLabel { RunLabel(method: Self.name, criterion: "unit-\(settings.score.rawValue)", schedule: settings.schedule) }
    public var observers: [TrainingObserver] { [self] }
    public var pruned: [Parameter] { currentLayers().map(\.weight) }

    /// The pruned layers as the model holds them now.
    func currentLayers() -> [UnitLayer] {
        let all = StructuredPruning.unitLayers(session.model)
        return names.map { n in all.first { $0.name == n }! }
    }

    public func trainingWillStart(_ trainer: Trainer) {
        if schedule.checksAtInitialization && trainer.step == 0 { check(step: 0) }
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        if settings.score == .trajectory {
            for (s, layer) in zip(statistics, currentLayers()) { s.update(layer.weight.value, step: info.step) }
        }
        if info.step < session.plannedSteps && schedule.isCheck(step: info.step) { check(step: info.step) }
        return .continue
    }

    /// Asks the schedule how many units each layer loses, removes the lowest-scoring ones from
    /// the network, and carries the optimizer state and the trajectory statistics over.
    func check(step: Int) {
        var keep: [String: [Int]] = [:]
        for (i, layer) in currentLayers().enumerated() {
            let state = LayerState(name: layer.name, total: original[i], alive: layer.units, finalTarget: settings.ratio)
            let remove = min(schedule.request(step: step, layer: state).count, layer.units - 1)
            guard remove > 0 else { continue }
            let alive = [Bool](repeating: true, count: layer.units)
            let scores = Self.scores(layer, score: settings.score, statistics: statistics[i])
            let kept = StructuredPruning.keep(scores: scores, alive: alive, remove: remove)
            keep[layer.name] = kept.indices.filter { kept[$0] }
            let mean = { (xs: [Float]) in xs.isEmpty ? 0 : xs.reduce(0.0) { $0 + Double($1) } / Double(xs.count) }
            events.append([
                .int(step), .string(layer.name), .int(layer.units), .int(remove),
                .double(mean(zip(scores, kept).filter { !$1 }.map(\.0))), .double(mean(zip(scores, kept).filter { $1 }.map(\.0))),
            ])
        }
        guard !keep.isEmpty else { return }
        removeUnits(keep)
        for (i, n) in names.enumerated() { if let k = keep[n] { keptOriginal[i] = k.map { keptOriginal[i][$0] } } }
    }

    /// Removes the units `keep` does not list (indices into the current units, by layer).
    func removeUnits(_ keep: [String: [Int]]) {
        guard let maps = try? Compaction.removeUnits(from: session.model, keeping: keep) else {
            preconditionFailure("the layers were checked compactable at the start")
        }
        session.trainer.modelLayersDidChange(keeping: maps)
        for (i, layer) in currentLayers().enumerated() {
            if let m = maps[layer.weight.name] { statistics[i] = statistics[i].gathered(m) }
        }
    }

    /// The `score` of every unit of `layer` (higher: more important); `statistics` are those of
    /// its weight (read by `trajectory` only).
    static func scores(_ layer: UnitLayer, score: UnitsSettings.Score, statistics: TrajectoryStatistics) -> [Float] {
        let d = layer.unitSize
        let w: [Float]
        switch score {
        case .l1: return L1UnitCriterion.scores(layer, alive: [Bool](repeating: true, count: layer.units))
        case .l2: w = layer.weight.value.scalars
        case .trajectory:
            // a weight whose line crosses zero within the horizon is taken as 0 there
            let now = layer.weight.value.scalars
            w = zip(statistics.extrapolated(), now).map { e, x in e * x > 0 ? e : 0 }
        }
        return (0..<layer.units).map { u in
            var s = 0.0
            for i in 0..<d { s += Double(w[u * d + i]) * Double(w[u * d + i]) }
            return Float(s.squareRoot())
        }
    }

    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {
        try events.write(to: run.folder.file("events.csv"))
        let units = zip(names, keptOriginal).map { "\($0):\($1.count)" }.joined(separator: " ")
        summary.extra.append(SummaryColumn("units_kept", .string(units)))
        summary.extra += try CompactionReport.write(run)
    }

    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/events", text: events.text)
        for (i, k) in keptOriginal.enumerated() { archive.set("\(prefix)/kept/\(i)", k.map(Int64.init)) }
        for (i, s) in statistics.enumerated() { s.save(into: archive, prefix: "\(prefix)/statistics/\(i)") }
    }

    /// Rebuilds the network with the checkpoint's kept units before the weights are restored.
    public func restoreArchitecture(from archive: StateArchive, prefix: String) throws {
        var keep: [String: [Int]] = [:]
        for (i, n) in names.enumerated() {
            let k = try archive.ints("\(prefix)/kept/\(i)").map(Int.init)
            guard !k.isEmpty, k.allSatisfy({ $0 >= 0 && $0 < original[i] }), k == k.sorted() else {
                throw PruningError("checkpoint key \(prefix)/kept/\(i): the kept units do not fit \(n)'s \(original[i]) units")
            }
            if k.count < keptOriginal[i].count { keep[n] = k }
        }
        guard !keep.isEmpty, keptOriginal == original.map({ Array(0..<$0) }) else { return }
        removeUnits(keep)
        for (i, n) in names.enumerated() { if let k = keep[n] { keptOriginal[i] = k } }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        events = try CSVTable(columns: events.columns, text: try archive.text("\(prefix)/events"))
        for (i, s) in statistics.enumerated() { try s.restore(from: archive, prefix: "\(prefix)/statistics/\(i)") }
    }
}

/// `pruning.units`: which layers lose units, how they are scored, and the schedule (its keys in
/// `pruning.units.<schedule>`, the same sections as `pruning.dynamic`'s; the schedule's count
/// is in units, its final target `ratio`).
public struct UnitsSettings: ConfigSection {
    public enum Score: String, Codable, Sendable, CaseIterable { case l1, l2, trajectory }
    public var score: Score
    public var layers: [String]?
    public var ratio: Double
    public var schedule: String
    public var scheduleSettings: AnySection
    public var window: Int
    public var horizon: Int

    public static let keyHelp: [(key: String, help: String)] = [
        (
            "score",
            "`l1` or `l2` (norm of the unit's incoming weights) or `trajectory` (norm of the weights extrapolated `horizon` steps ahead)"
        ),
        ("layers", "layers to prune, by name (absent: every weighted layer but the output)"),
        ("ratio", "fraction of each layer's units removed by the end (the schedule's final target), [0, 1)"),
        (
            "schedule",
            "when and how many: \(ScheduleRegistry.all.filter { !$0.needsFinished }.map(\.name).joined(separator: ", ")); its keys go in `pruning.units.<schedule>`"
        ),
        ("window", "`trajectory`: effective window of the statistics, in steps (>= 1)"),
        ("horizon", "`trajectory`: steps ahead the weights are extrapolated (>= 0)"),
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let own = ["score", "layers", "ratio", "schedule", "window", "horizon"]
        for key in c.allKeys where !own.contains(key.stringValue) && !ScheduleRegistry.names.contains(key.stringValue) {
            throw ConfigError(
                path: jsonPath(c.codingPath + [key]),
                "unknown key; known keys here: \((own + ScheduleRegistry.names).sorted().joined(separator: ", "))")
        }
        score = try c.value(AnyKey(stringValue: "score"), default: .l1)
        layers = try c.value(AnyKey(stringValue: "layers"), default: nil)
        ratio = try c.value(AnyKey(stringValue: "ratio"), default: 0.5)
        window = try c.value(AnyKey(stringValue: "window"), default: 20)
        horizon = try c.value(AnyKey(stringValue: "horizon"), default: 100)
        schedule = try c.value(AnyKey(stringValue: "schedule"), default: "cubic")
        guard let se = ScheduleRegistry.entry(named: schedule), !se.needsFinished else {
            throw ConfigError(
                path: "pruning.units.schedule",
                "unknown or unsupported schedule \"\(schedule)\"; known: \(ScheduleRegistry.all.filter { !$0.needsFinished }.map(\.name).joined(separator: ", "))"
            )
        }
        scheduleSettings = try AnySection.decode(
            se.settingsType, name: schedule, from: c, key: AnyKey(stringValue: schedule), path: "pruning.units.\(schedule)")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(score, forKey: AnyKey(stringValue: "score"))
        try c.encodeIfPresent(layers, forKey: AnyKey(stringValue: "layers"))
        try c.encode(ratio, forKey: AnyKey(stringValue: "ratio"))
        try c.encode(schedule, forKey: AnyKey(stringValue: "schedule"))
        try c.encode(window, forKey: AnyKey(stringValue: "window"))
        try c.encode(horizon, forKey: AnyKey(stringValue: "horizon"))
        if !(scheduleSettings.value is NoSettings) { try c.encode(scheduleSettings, forKey: AnyKey(stringValue: schedule)) }
    }

    public func validate(at path: String) throws {
        if !(ratio >= 0 && ratio < 1) { throw ConfigError(path: "\(path).ratio", "must be in [0, 1), got \(ratio)") }
        if window < 1 { throw ConfigError(path: "\(path).window", "must be >= 1, got \(window)") }
        if horizon < 0 { throw ConfigError(path: "\(path).horizon", "must be >= 0, got \(horizon)") }
    }
}

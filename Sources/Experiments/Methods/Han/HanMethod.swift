import Foundation
import Schema
import TensorCore
import NN
import Training
import Pruning

/// The post-training baseline of Han et al. 2015: after dense training, rounds of
/// magnitude pruning each followed by retraining with the mask held fixed.
///
/// Each round prunes by `rule` (per layer or globally), installs the masks on the weights and
/// the optimizer state, evaluates, retrains `retrain` steps at `retrain_learning_rate`
/// (constant, or cosine-annealed within the round), and evaluates again. The loop stops after
/// `rounds` or as soon as the pruned layers reach `stop_at_sparsity`. With `curve.enabled`,
/// the accuracy-vs-sparsity curve of the trained dense model is written first (as analysis:
/// its time is not the method's cost). Artifacts: `rounds.csv`, `prune-curve.csv`.
public final class HanMethod: PruningMethod {
    public static let name = "han"
    public static let summary = "train, then rounds of magnitude prune ▶ retrain (Han et al. 2015)"
    let settings: HanSettings
    let pruning: PruningConfig
    let session: TrainingSession
    public let pruned: [Parameter]
    var rounds: CSVTable
    var progress = Progress()
    /// Told of every round's pruning (TensorBoard's sparsity scalars).
    weak var sink: HistogramSink?

    public static func arms(for base: ExperimentConfig) -> [MethodArm] {
        [MethodArm(name: name, overrides: ["pruning.method=han"], isDefault: true)]
    }

    public init(settings: HanSettings, run: RunContext) throws {
        self.settings = settings
        pruning = run.pruning
        session = run.session
        if settings.scope == .global && !pruning.layerSparsity.isEmpty {
            throw ConfigError(path: "pruning.han.scope", "per-layer sparsity (pruning.layer_sparsity) needs scope \"layer\"")
        }
        pruned = try PrunedWeights.select(
            pruning, model: session.model,
            extraNames: [("pruning.han.layer_q", Array(settings.layerQ.keys))])
        rounds = CSVTable(columns: HanMethod.roundColumns(layers: session.model.prunableParameters.map(\.layerName)))
    }

    public var label: RunLabel { RunLabel(method: Self.name) }

    public var extraSteps: Int { settings.rounds * settings.retrain.steps(perEpoch: session.stepsPerEpoch) }

    public func afterTraining(_ run: RunContext) throws {
        if settings.curve.enabled && !progress.curveDone {
            try run.analysis {
                let c = settings.curve
                run.progress?.phase = .analysis
                let curve = PruneCurve.compute(
                    model: session.model, parameters: pruned, grid: c.grid, perLayer: c.perLayer,
                    testImages: run.data.test.images, testLabels: run.data.test.labels,
                    workers: session.evaluationWorkers,
                    recalibrationImages: c.recalibrateBN ? run.data.train.images : nil
                ) { run.progress?.analysis(done: $0, total: $1, series: $2, seriesFinished: $3) }
                try curve.write(to: run.folder.file("prune-curve.csv"))
                if !c.footprint.isEmpty {
                    let table = try Footprint.table(
                        model: session.model, parameters: pruned, sparsities: c.footprint, scope: settings.scope,
                        testImages: run.data.test.images, testLabels: run.data.test.labels,
                        workers: session.evaluationWorkers)
                    try table.write(to: run.folder.file("footprint.csv"))
                }
            }
            progress.curveDone = true
        }
        try runRounds(run)
    }

    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {
        try rounds.write(to: run.folder.file("rounds.csv"))
    }

    /// The rule for `p` in round `round` of `rounds` (1-based).
    func rule(for p: Parameter, round: Int, rounds: Int) -> ThresholdRule {
        let name = p.layerName
        switch settings.rule {
        case .std: return .std(q: settings.layerQ[name] ?? settings.q)
        case .percentile: return .percentile(settings.percentile)
        case .sparsity:
            let final = pruning.finalTarget(layer: name)
            // the same fraction of survivors each round: keep_r = keep_final^(r/R)
            let keep = pow(1 - final, Double(round) / Double(max(rounds, 1)))
            return .sparsity(1 - keep)
        }
    }

    /// Prunes once with round `round`'s rules and installs the masks (weights and optimizer state).
    public func pruneOnce(round: Int, rounds: Int) throws {
        var rules: [String: ThresholdRule] = [:]
        for p in pruned { rules[p.name] = rule(for: p, round: round, rounds: rounds) }
        let pruner = MagnitudePruner(rules: rules, scope: settings.scope)
        let masks = pruner.masks(for: pruned, scores: pruned.map(MagnitudeScore.scores))
        try MaskSet(masks).install(on: session.model)
        session.optimizer.applyMasksToState()
        if settings.resetMomentum { session.optimizer.resetState() }
    }

    /// The columns of `rounds.csv`.
    static func roundColumns(layers: [String]) -> [String] {
        var columns = ["round", "sparsity_before", "sparsity_after", "pruned_sparsity_after"]
        columns += layers.map { "\($0)_sparsity_before" } + layers.map { "\($0)_sparsity_after" }
        return columns + [
            "test_accuracy_pruned", "test_accuracy_retrained", "test_loss_retrained",
            "retrain_steps", "round_train_flops",
        ]
    }

    /// Where the rounds stand (checkpointed): rounds finished, and the round being retrained.
    struct Progress {
        var curveDone = false
        var completed = 0
        var stopped = false
        /// The round in progress: its number, the step its retraining started at, the trainer's
        /// FLOPs then, and the row values measured right after pruning.
        var current: (round: Int, start: Int, flops: Int, values: [Double])?
    }

    /// Runs the rounds not yet done (all of them, unless resumed), each: prune, evaluate,
    /// retrain, evaluate, one row of `rounds.csv`; a checkpoint after every round.
    func runRounds(_ run: RunContext) throws {
        let trainer = session.trainer
        let retrainSteps = settings.retrain.steps(perEpoch: session.stepsPerEpoch)
        trainer.schedule = LearningRateSchedule(
            base: settings.retrainLearningRate,
            kind: settings.retrainSchedule == .cosine ? .cosine(total: retrainSteps, minimum: 0) : .constant)
        while progress.completed < settings.rounds && !progress.stopped {
            let round = progress.completed + 1
            run.progress?.phase = .hanRound(round, of: settings.rounds)
            if progress.current == nil { try beginRound(round) }
            let current = progress.current!
            trainer.scheduleOffset = -current.start  // each round's schedule starts at its step 0
            let remaining = retrainSteps - (trainer.step - current.start)
            if remaining > 0 { try trainer.train(steps: remaining) }
            let retrained = session.evaluateTest()
            // values: overall sparsity before and after pruning, per layer before, per layer after,
            // test accuracy right after pruning
            let v = current.values
            var row: [CSVValue] = [.int(round), .double(v[0]), .double(v[1]), .double(Parameter.sparsity(pruned))]
            row += v[2..<(v.count - 1)].map(CSVValue.double)
            row += [
                .double(v[v.count - 1]), .double(retrained.accuracy), .double(retrained.loss), .int(retrainSteps),
                .int(trainer.flops - current.flops),
            ]
            rounds.append(row)
            progress.current = nil
            progress.completed = round
            progress.stopped = settings.stopAtSparsity > 0 && Parameter.sparsity(pruned) >= settings.stopAtSparsity
            run.progress?.roundDidEnd(round, of: settings.rounds, sparsity: v[1], testAccuracy: retrained.accuracy)
            try run.checkpoint()
        }
    }

    /// Prunes for `round` and measures the row values known before retraining.
    func beginRound(_ round: Int) throws {
        let all = session.model.prunableParameters
        let before = all.map { Parameter.sparsity([$0]) }
        let overallBefore = Parameter.sparsity(all)
        try pruneOnce(round: round, rounds: settings.rounds)
        sink?.pruningDidChange(step: session.trainer.step)
        let after = all.map { Parameter.sparsity([$0]) }
        let prunedEval = session.evaluateTest()
        let values = [overallBefore, Parameter.sparsity(all)] + before + after + [prunedEval.accuracy]
        progress.current = (round, session.trainer.step, session.trainer.flops, values)
    }

    public func attach(_ sink: HistogramSink) { self.sink = sink }

    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/rounds", text: rounds.text)
        archive.set("\(prefix)/progress", [Int64(progress.curveDone ? 1 : 0), Int64(progress.completed), Int64(progress.stopped ? 1 : 0)])
        if let c = progress.current {
            archive.set("\(prefix)/current", [Int64(c.round), Int64(c.start), Int64(c.flops)])
            archive.set("\(prefix)/current_values", c.values)
        }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        rounds = try CSVTable(columns: rounds.columns, text: try archive.text("\(prefix)/rounds"))
        let p = try archive.ints("\(prefix)/progress")
        progress = Progress(curveDone: p[0] == 1, completed: Int(p[1]), stopped: p[2] == 1)
        if archive.has("\(prefix)/current") {
            let c = try archive.ints("\(prefix)/current")
            progress.current = (Int(c[0]), Int(c[1]), Int(c[2]), try archive.doubles("\(prefix)/current_values"))
        }
    }
}

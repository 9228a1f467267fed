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
    var rounds: CSVTable?

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
        pruned = try PrunedWeights.select(pruning, model: session.model,
                                          extraNames: [("pruning.han.layer_q", Array(settings.layerQ.keys))])
    }

    public var label: RunLabel { RunLabel(method: Self.name) }

    public var extraSteps: Int { settings.rounds * settings.retrain.steps(perEpoch: session.stepsPerEpoch) }

    public func afterTraining(_ run: RunContext) throws {
        if settings.curve.enabled {
            try run.analysis {
                let c = settings.curve
                let curve = PruneCurve.compute(model: session.model, parameters: pruned, grid: c.grid, perLayer: c.perLayer,
                                               testImages: run.data.test.images, testLabels: run.data.test.labels,
                                               workers: session.evaluationWorkers)
                try curve.write(to: run.folder.file("prune-curve.csv"))
            }
        }
        rounds = try runRounds()
    }

    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {
        try rounds?.write(to: run.folder.file("rounds.csv"))
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
    func roundColumns(layers: [String]) -> [String] {
        var columns = ["round", "sparsity_before", "sparsity_after", "pruned_sparsity_after"]
        columns += layers.map { "\($0)_sparsity_before" } + layers.map { "\($0)_sparsity_after" }
        return columns + ["test_accuracy_pruned", "test_accuracy_retrained", "test_loss_retrained",
                          "retrain_steps", "round_train_flops"]
    }

    /// Runs every round; returns `rounds.csv`.
    func runRounds() throws -> CSVTable {
        let all = session.model.prunableParameters
        var table = CSVTable(columns: roundColumns(layers: all.map(\.layerName)))
        let trainer = session.trainer
        let retrainSteps = settings.retrain.steps(perEpoch: session.stepsPerEpoch)
        trainer.schedule = LearningRateSchedule(
            base: settings.retrainLearningRate,
            kind: settings.retrainSchedule == .cosine ? .cosine(total: retrainSteps, minimum: 0) : .constant)
        for round in 1...max(settings.rounds, 1) where settings.rounds > 0 {
            let before = all.map { Parameter.sparsity([$0]) }
            let overallBefore = Parameter.sparsity(all)
            try pruneOnce(round: round, rounds: settings.rounds)
            let after = all.map { Parameter.sparsity([$0]) }
            let overallAfter = Parameter.sparsity(all)
            let prunedEval = session.evaluateTest()
            let flops0 = trainer.flops
            trainer.scheduleOffset = -trainer.step  // each round's schedule starts at its step 0
            if retrainSteps > 0 { try trainer.train(steps: retrainSteps) }
            let retrained = session.evaluateTest()
            var row: [CSVValue] = [.int(round), .double(overallBefore), .double(overallAfter), .double(Parameter.sparsity(pruned))]
            row += before.map(CSVValue.double) + after.map(CSVValue.double)
            row += [.double(prunedEval.accuracy), .double(retrained.accuracy), .double(retrained.loss),
                    .int(retrainSteps), .int(trainer.flops - flops0)]
            table.append(row)
            if settings.stopAtSparsity > 0 && Parameter.sparsity(pruned) >= settings.stopAtSparsity { break }
        }
        return table
    }
}

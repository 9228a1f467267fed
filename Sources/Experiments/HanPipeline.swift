import Foundation
import TensorCore
import NN
import Training
import Pruning

/// The post-training baseline of Han et al. 2015: after dense training, rounds of
/// magnitude pruning each followed by retraining with the mask held fixed.
///
/// Each round prunes by `PruningConfig.rule` (per layer or globally), installs the masks on the
/// weights and the momentum buffers, evaluates, retrains `retrain` steps at
/// `retrain_learning_rate` (constant, or cosine-annealed within the round), and evaluates again. The loop stops after `rounds` or as
/// soon as the pruned layers reach `stop_at_sparsity`.
public final class HanPipeline {
    let config: PruningConfig
    let session: TrainingSession
    /// Parameters this method prunes, in layer order.
    public let pruned: [Parameter]

    public init(config: PruningConfig, session: TrainingSession) throws {
        self.config = config
        self.session = session
        pruned = try HanPipeline.prunableParameters(config: config, model: session.model)
    }

    /// The prunable weights minus the excluded layers; unknown names in `exclude` are errors.
    static func prunableParameters(config: PruningConfig, model: Sequential) throws -> [Parameter] {
        let layerNames = model.layers.filter { $0.parameters.contains(where: \.isPrunable) }.map(\.name)
        for name in config.exclude + Array(config.layerQ.keys) + Array(config.layerSparsity.keys)
        where !layerNames.contains(name) {
            throw ConfigError(path: "pruning", "layer \"\(name)\" does not exist; layers: \(layerNames.joined(separator: ", "))")
        }
        var excluded = Set(config.exclude)
        if config.excludeOutput, let last = layerNames.last { excluded.insert(last) }
        let params = model.layers.filter { !excluded.contains($0.name) }.flatMap(\.parameters).filter(\.isPrunable)
        guard !params.isEmpty else { throw ConfigError(path: "pruning.exclude", "excludes every prunable layer") }
        return params
    }

    static func layerName(_ p: Parameter) -> String { String(p.name.split(separator: ".").first ?? "") }

    /// Sparsity over `params` (fraction of entries that are exactly 0).
    public static func sparsity(_ params: [Parameter]) -> Double {
        let total = params.reduce(0) { $0 + $1.value.count }
        let nz = params.reduce(0) { $0 + $1.value.nonzeroCount }
        return total == 0 ? 0 : 1 - Double(nz) / Double(total)
    }

    /// The rule for `p` in round `round` of `rounds` (1-based).
    func rule(for p: Parameter, round: Int, rounds: Int) -> ThresholdRule {
        let name = HanPipeline.layerName(p)
        switch config.rule {
        case .std: return .std(q: config.layerQ[name] ?? config.q)
        case .percentile: return .percentile(config.percentile)
        case .sparsity:
            let final = config.layerSparsity[name] ?? config.targetSparsity
            // the same fraction of survivors each round: keep_r = keep_final^(r/R)
            let keep = pow(1 - final, Double(round) / Double(max(rounds, 1)))
            return .sparsity(1 - keep)
        }
    }

    /// Prunes once with round `round`'s rules and installs the masks (weights and momentum).
    public func pruneOnce(round: Int, rounds: Int) throws {
        var rules: [String: ThresholdRule] = [:]
        for p in pruned { rules[p.name] = rule(for: p, round: round, rounds: rounds) }
        let pruner = MagnitudePruner(rules: rules, scope: config.scope)
        let masks = pruner.masks(for: pruned, scores: pruned.map(MagnitudeScore.scores))
        try MaskSet(masks).install(on: session.model)
        session.optimizer.applyMasksToState()
        if config.resetMomentum { session.optimizer.resetState() }
    }

    /// Runs every round; returns `rounds.csv`.
    public func run() throws -> CSVTable {
        let model = session.model
        let all = model.prunableParameters
        let layers = all.map(HanPipeline.layerName)
        var columns = ["round", "sparsity_before", "sparsity_after", "pruned_sparsity_after"]
        columns += layers.map { "\($0)_sparsity_before" } + layers.map { "\($0)_sparsity_after" }
        columns += ["test_accuracy_pruned", "test_accuracy_retrained", "test_loss_retrained",
                    "retrain_steps", "round_train_flops"]
        var table = CSVTable(columns: columns)
        let trainer = session.trainer
        let retrainSteps = config.retrain.steps(perEpoch: session.stepsPerEpoch)
        trainer.schedule = LearningRateSchedule(
            base: config.retrainLearningRate,
            kind: config.retrainSchedule == .cosine ? .cosine(total: retrainSteps, minimum: 0) : .constant)
        for round in 1...max(config.rounds, 1) where config.rounds > 0 {
            let before = all.map { HanPipeline.sparsity([$0]) }
            let overallBefore = HanPipeline.sparsity(all)
            try pruneOnce(round: round, rounds: config.rounds)
            let after = all.map { HanPipeline.sparsity([$0]) }
            let overallAfter = HanPipeline.sparsity(all)
            let pruned = session.evaluateTest()
            let flops0 = trainer.flops
            trainer.scheduleOffset = -trainer.step  // each round's schedule starts at its step 0
            if retrainSteps > 0 { try trainer.train(steps: retrainSteps) }
            let retrained = session.evaluateTest()
            var row: [CSVValue] = [.int(round), .double(overallBefore), .double(overallAfter),
                                   .double(HanPipeline.sparsity(self.pruned))]
            row += before.map(CSVValue.double) + after.map(CSVValue.double)
            row += [.double(pruned.accuracy), .double(retrained.accuracy), .double(retrained.loss),
                    .int(retrainSteps), .int(trainer.flops - flops0)]
            table.append(row)
            if config.stopAtSparsity > 0 && HanPipeline.sparsity(self.pruned) >= config.stopAtSparsity { break }
        }
        return table
    }
}

import Foundation
import TensorCore
import NN
import Training
import Pruning

/// Prunes while the network trains: an observer that, every `every` steps between `start` and
/// `end`, brings each pruned layer to the cubic schedule's sparsity by removing the weights
/// its criterion scores lowest, and writes one `events.csv` row per layer and check.
///
/// Per check and layer: `k = min(ceil-target count - already pruned, max_per_check * weights)`;
/// checks continue after `end`, at the final target, until the caps have let every layer reach it.
/// selected exactly by `Selection.lowest` over the survivors; the layer's final target
/// (`layer_sparsity` or `target_sparsity`) is never exceeded. Masks go to the weights and the
/// momentum buffers at once, so pruned weights cost no FLOPs from the next step on.
public final class DynamicPruner: TrainingObserver {
    let config: PruningConfig
    public let pruned: [Parameter]
    let criterion: DynamicCriterion
    let optimizer: SGD
    let startStep: Int, endStep: Int, everySteps: Int
    public private(set) var events: CSVTable
    let statColumns: [String]

    public init(config: PruningConfig, session: TrainingSession) throws {
        self.config = config
        pruned = try HanPipeline.prunableParameters(config: config, model: session.model)
        optimizer = session.optimizer
        let perEpoch = session.stepsPerEpoch
        startStep = config.start.steps(perEpoch: perEpoch)
        endStep = config.end.steps(perEpoch: perEpoch)
        everySteps = config.every.steps(perEpoch: perEpoch)
        guard endStep > startStep else {
            throw ConfigError(path: "pruning.end", "must come after pruning.start (\(config.start) ▶ \(config.end))")
        }
        guard endStep <= session.plannedSteps else {
            throw ConfigError(path: "pruning.end", "\(config.end) is after the end of training (\(session.plannedSteps) steps)")
        }
        let params = pruned
        let tracker = { TrajectoryTracker(parameters: params, window: config.window,
                                          every: config.statsEvery.steps(perEpoch: perEpoch),
                                          horizon: config.horizon.steps(perEpoch: perEpoch)) }
        switch config.criterion {
        case .linear:
            criterion = LinearCriterion(tracker: tracker(), r2Threshold: config.r2Threshold,
                                        straightnessThreshold: config.straightnessThreshold)
            statColumns = ["mean_r2", "mean_straightness"]
        case .stalled:
            criterion = StalledCriterion(tracker: tracker(), fraction: config.stalledFraction)
            statColumns = ["mean_abs_update"]
        case .magnitude:
            criterion = MagnitudeCriterion()
            statColumns = []
        case .movement:
            criterion = MovementCriterion()
            statColumns = ["mean_movement_score"]
        }
        events = CSVTable(columns: ["step", "layer", "pruned", "sparsity_after", "target_sparsity", "mean_abs_weight_pruned"] + statColumns)
    }

    public var methodName: String { config.criterion == .magnitude ? "gmp" : "dynamic-\(config.criterion.rawValue)" }

    func finalTarget(_ p: Parameter) -> Double {
        config.layerSparsity[HanPipeline.layerName(p)] ?? config.targetSparsity
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        criterion.observe(step: info.step, parameters: pruned)
        let t = info.step
        // Checks go on after `end` (at the final target) until the caps have let it be reached.
        guard t >= startStep, (t - startStep) % everySteps == 0 else { return .continue }
        check(step: t)
        return .continue
    }

    /// One pruning check at step `t`.
    func check(step t: Int) {
        var changed = false
        for (i, p) in pruned.enumerated() {
            let n = p.value.count
            let target = cubicSparsity(step: t, start: startStep, end: endStep, final: finalTarget(p))
            let keep = Int((Double(n) * (1 - target)).rounded(.up))
            let alive = MagnitudePruner.alive(p)
            let aliveCount = alive.reduce(0) { $0 + ($1 ? 1 : 0) }
            let k = min(max(0, aliveCount - keep), Int((Double(n) * config.maxPerCheck).rounded(.down)))
            guard k > 0 else { continue }
            let scores = criterion.scores(index: i, parameter: p)
            let picked = Selection.lowest(scores, alive: alive, count: k)
            let meanAbs = picked.reduce(0.0) { $0 + Double(abs(p.value.scalars[$1])) } / Double(picked.count)
            let stats = criterion.describe(index: i, pruned: picked)
            var mask = p.mask ?? Tensor(shape: p.value.shape, repeating: 1)
            for j in picked { mask.scalars[j] = 0 }
            p.setMask(mask)
            changed = true
            var row: [CSVValue] = [.int(t), .string(HanPipeline.layerName(p)), .int(picked.count),
                                   .double(HanPipeline.sparsity([p])), .double(target), .double(meanAbs)]
            var byName: [String: Double] = [:]
            for (k, v) in stats { byName[k] = v }
            row += statColumns.map { byName[$0].map(CSVValue.double) ?? .string("") }
            events.append(row)
        }
        if changed { optimizer.applyMasksToState() }
    }
}

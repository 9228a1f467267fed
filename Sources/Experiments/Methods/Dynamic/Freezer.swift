import Foundation
import NN
import Pruning
import Schema
import TensorCore
import Training

/// Extrapolate-and-freeze (`pruning.dynamic.freeze`): at its checks, moves every live weight
/// whose trajectory is confidently straight to its predicted end-of-training value and freezes
/// it there (`Parameter.freeze`), up to `max_fraction` of each layer's live weights; writes
/// `freeze.csv`, one row per check and layer. The prediction is `LRTimeCriterion`'s
/// (displacement per unit of learning rate times the learning rate left), the confidence the
/// R² of the weight's fitted line (`TrajectoryStatistics`) over the same window.
final class Freezer: TrainingObserver {
    let pruned: [Parameter]
    let predictor: LRTimeCriterion
    let optimizer: any Optimizer
    let startStep: Int, everySteps: Int
    let r2: Float
    let maxFraction: Double
    private(set) var events = CSVTable(columns: ["step", "layer", "frozen", "frozen_total", "live", "mean_abs_shift"])

    init(settings: FreezeSettings, pruned: [Parameter], context: CriterionContext, optimizer: any Optimizer) throws {
        guard optimizer is SGD else {
            throw ConfigError(path: "pruning.dynamic.freeze.enabled", "extrapolate-and-freeze needs training.optimizer \"sgd\"")
        }
        self.pruned = pruned
        self.optimizer = optimizer
        let json = try JSONSerialization.data(withJSONObject: ["stats_every": settings.statsEvery.description, "window": settings.window])
        predictor = LRTimeCriterion(settings: try JSONDecoder().decode(LRTimeCriterion.Settings.self, from: json), context: context)
        startStep = settings.start.steps(perEpoch: context.stepsPerEpoch)
        everySteps = max(1, settings.every.steps(perEpoch: context.stepsPerEpoch))
        r2 = Float(settings.r2)
        maxFraction = settings.maxFraction
    }

    func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        predictor.observe(step: info.step)
        if info.step >= startStep && (info.step - startStep) % everySteps == 0 { check(step: info.step) }
        return .continue
    }

    /// One freeze check at step `t`.
    func check(step t: Int) {
        guard predictor.trajectoryWindow?.isUsable ?? false else { return }
        var changed = false
        for (i, p) in pruned.enumerated() {
            let live = p.activeCount
            let room = ExactCount.floor(live, times: maxFraction) - p.frozenIndices.count
            guard room > 0 else { continue }
            let predicted = predictor.predicted(index: i)
            let fit = predictor.tracker.statistics[i].rSquared()
            let frozen = Set(p.frozenIndices.map(Int.init))
            let w = p.value.scalars
            // the most confident first (highest R², then index), within the layer's room
            let candidates = (0..<w.count).filter { w[$0] != 0 && fit[$0] >= r2 && !frozen.contains($0) }
                .sorted { fit[$0] > fit[$1] || (fit[$0] == fit[$1] && $0 < $1) }.prefix(room)
            guard !candidates.isEmpty else { continue }
            let picked = Array(candidates)
            let shift = picked.reduce(0.0) { $0 + Double(abs(predicted[$1] - w[$1])) } / Double(picked.count)
            p.freeze(picked, at: picked.map { predicted[$0] })
            changed = true
            events.append([
                .int(t), .string(p.layerName), .int(picked.count), .int(p.frozenIndices.count), .int(live), .double(shift),
            ])
        }
        if changed { optimizer.applyMasksToState() }
    }

    func save(into archive: StateArchive, prefix: String) {
        predictor.save(into: archive, prefix: "\(prefix)/predictor")
        archive.set("\(prefix)/events", text: events.text)
        for (i, p) in pruned.enumerated() {
            archive.set("\(prefix)/\(i)/indices", p.frozenIndices.map(Int64.init))
            archive.set("\(prefix)/\(i)/values", p.frozenValues)
        }
    }

    func restore(from archive: StateArchive, prefix: String) throws {
        try predictor.restore(from: archive, prefix: "\(prefix)/predictor")
        events = try CSVTable(columns: events.columns, text: try archive.text("\(prefix)/events"))
        for (i, p) in pruned.enumerated() {
            let idx = try archive.ints("\(prefix)/\(i)/indices").map(Int.init), values = try archive.floats("\(prefix)/\(i)/values")
            guard idx.count == values.count else { throw StateArchiveError.shape("\(prefix)/\(i)") }
            p.unfreeze()
            p.freeze(idx, at: values)
        }
    }
}

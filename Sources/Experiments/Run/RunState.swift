import Foundation
import TensorCore
import NN
import Training

/// Everything a run needs to continue, gathered from its parts: the weights and masks, the
/// optimizer's state, the loop's position (step, epoch, FLOPs, the data-order and augmentation
/// generators), the metrics so far, the method's own progress (criterion statistics, events, Han round), and
/// the trajectory recorder's position, and the config itself (canonical JSON). Checkpoints are taken between epochs (and at Han round
/// boundaries), so "position in the epoch's batch order" is always its start.
struct RunState {
    let run: RunContext
    let method: any PruningMethod
    let metrics: MetricsRecorder
    let trajectories: TrajectoryRecorder?
    let tensorBoard: TensorBoardRecorder?

    /// The archive key of the run's canonical config JSON.
    static let configKey = "config/json"

    func archive() -> StateArchive {
        let a = StateArchive()
        let session = run.session, trainer = session.trainer
        for p in session.model.parameters {
            a.set("model/\(p.name)/value", p.value.scalars)
            if let m = p.mask { a.set("model/\(p.name)/mask", m.scalars) }
        }
        for l in session.model.statefulLayers { l.save(into: a, prefix: "model/\(l.name)") }
        session.optimizer.save(into: a, prefix: "optimizer")
        a.set("trainer/position", [Int64(trainer.step), Int64(trainer.epoch), Int64(trainer.flops), Int64(trainer.denseFLOPs)])
        a.set("trainer/batcher", trainer.batcher.rngState)
        if let augmentation = trainer.batcher.augmentation { a.set("trainer/augment", augmentation.rng) }
        metrics.save(into: a, prefix: "metrics")
        method.save(into: a, prefix: "method")
        trajectories?.save(into: a, prefix: "trajectories")
        tensorBoard?.save(into: a, prefix: "tensorboard")
        run.kernels?.save(into: a, prefix: "kernels")
        session.clock.save(into: a, prefix: "run")
        // the config the state belongs to: a resume refuses a config.json edited since
        if let json = try? ConfigLoader.canonicalJSON(run.config) { a.set(Self.configKey, text: String(decoding: json, as: UTF8.self)) }
        return a
    }

    func restore(_ a: StateArchive) throws {
        let session = run.session, trainer = session.trainer
        try method.restoreArchitecture(from: a, prefix: "method")
        for p in session.model.parameters {
            p.value = try a.tensor("model/\(p.name)/value", shape: p.value.shape)
            p.setMask(a.has("model/\(p.name)/mask") ? try a.tensor("model/\(p.name)/mask", shape: p.value.shape) : nil)
        }
        for l in session.model.statefulLayers { try l.restore(from: a, prefix: "model/\(l.name)") }
        try session.optimizer.restore(from: a, prefix: "optimizer")
        let pos = try a.ints("trainer/position")
        trainer.restore(step: Int(pos[0]), epoch: Int(pos[1]), flops: Int(pos[2]), denseFLOPs: Int(pos[3]))
        trainer.batcher.rngState = try a.rng("trainer/batcher")
        if trainer.batcher.augmentation != nil { trainer.batcher.augmentation?.rng = try a.rng("trainer/augment") }
        try metrics.restore(from: a, prefix: "metrics")
        try method.restore(from: a, prefix: "method")
        try trajectories?.restore(from: a, prefix: "trajectories")
        if a.has("tensorboard/last_histograms") { try tensorBoard?.restore(from: a, prefix: "tensorboard") }
        try run.kernels?.restore(from: a, prefix: "kernels")
        try session.clock.restore(from: a, prefix: "run")
    }
}

/// Writes a checkpoint at the first epoch end at least `every` steps after the previous one.
final class Checkpointer: TrainingObserver {
    let everySteps: Int
    var lastStep: Int
    let write: () throws -> Void
    /// The first write error (training goes on; the run reports it at the end).
    var failure: Error?

    init(everySteps: Int, startStep: Int, write: @escaping () throws -> Void) {
        self.everySteps = max(1, everySteps)
        lastStep = startStep
        self.write = write
    }

    func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision {
        guard failure == nil, info.step - lastStep >= everySteps else { return .continue }
        do { try write() } catch { failure = error }
        lastStep = info.step
        return .continue
    }
}

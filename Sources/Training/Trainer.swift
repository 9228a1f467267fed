import Dispatch
import TensorCore
import NN

/// What an observer wants after an event.
public enum TrainingDecision: Sendable {
    case `continue`
    case stop
}

/// The state of the loop after one optimizer step.
public struct StepInfo {
    /// 1-based count of optimizer steps taken so far in this loop.
    public var step: Int
    /// 1-based epoch the step belongs to.
    public var epoch: Int
    public var batchInEpoch: Int
    public var batchesPerEpoch: Int
    public var loss: Double
    public var correct: Int
    public var batchSize: Int
    public var learningRate: Double
    /// FLOPs this step executed (forward + backward on unmasked weights).
    public var flops: Int
    /// FLOPs the same step would have cost with every weight present.
    public var denseFLOPs: Int
}

/// The state of the loop after an epoch.
public struct EpochInfo {
    public var epoch: Int
    public var step: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
}

/// Plugs into the loop's events: recording, evaluation, pruning, progress.
///
/// Observers run in installation order and must not throw for control flow: they return a
/// decision. The loop itself never learns what they do.
public protocol TrainingObserver: AnyObject {
    func trainingWillStart(_ trainer: Trainer)
    func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision
    func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision
    func trainingDidEnd(_ trainer: Trainer)
}

extension TrainingObserver {
    public func trainingWillStart(_ trainer: Trainer) {}
    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision { .continue }
    public func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision { .continue }
    public func trainingDidEnd(_ trainer: Trainer) {}
}

/// Swaps the weights the gradient is computed at and swaps them back before the optimizer
/// step: quantization-aware training's straight-through estimator puts the quantized weights
/// in for the forward and backward passes, and the optimizer then updates the float weights
/// with that gradient.
public protocol GradientPointHook: AnyObject {
    /// Before the step's forward pass (the model holds the float weights).
    func willComputeGradients(_ trainer: Trainer)
    /// After the backward pass, before the optimizer step; must restore the float weights.
    func didComputeGradients(_ trainer: Trainer)
}

/// Training failed in a way the user must hear about.
public enum TrainingError: Error, CustomStringConvertible {
    case diverged(step: Int, epoch: Int, loss: Double)
    /// A signal (SIGINT, SIGTERM) asked the run to stop; `step` was completed.
    case interrupted(signal: Int32, step: Int)

    /// How a diverged run's error begins (`run.json` keeps it; sweeps report such runs apart).
    public static let divergedPrefix = "training diverged"

    public var description: String {
        switch self {
        case .diverged(let step, let epoch, let loss):
            return "\(Self.divergedPrefix) at step \(step) (epoch \(epoch)): loss is \(loss)"
        case .interrupted(let signal, let step):
            return "interrupted by signal \(signal) after step \(step)"
        }
    }
}

/// The mini-batch training loop: forward, loss, backward, optimizer step, events.
public final class Trainer {
    public let model: Sequential
    public let optimizer: any Optimizer
    public var schedule: LearningRateSchedule
    public var batcher: Batcher
    public var observers: [TrainingObserver] = []
    /// Hooks around each step's gradient computation, in order (reverse order after it).
    public var gradientHooks: [GradientPointHook] = []

    /// Optimizer steps taken by this trainer.
    public private(set) var step = 0
    public private(set) var epoch = 0
    /// FLOPs executed so far (unmasked weights only) and the dense equivalent.
    public private(set) var flops = 0
    public private(set) var denseFLOPs = 0
    /// Training FLOPs per sample of the model as built, every weight present: the dense
    /// reference `denseFLOPs` counts, which stays that of the full network when units are
    /// removed during training.
    public let densePerSampleFLOPs: Int
    /// Offset added to the step passed to the schedule (for resumed pipelines).
    public var scheduleOffset = 0
    /// Asked after every step: a signal number stops the loop (`TrainingError.interrupted`).
    /// By default the process's SIGINT/SIGTERM (`Interruption`); tests inject their own.
    public var interruption: (Int) -> Int32? = { _ in Interruption.pending }
    /// An epoch whose mean training loss exceeds this ends the run as diverged, like a
    /// non-finite loss (nil: only non-finite losses count).
    public var divergenceLimit: Double?

    /// Data-parallel workers: each step's batch is split into this many contiguous parts, each
    /// run forward and backward on its own replica of the model on its own thread (so BLAS
    /// should run single-threaded), and the gradients are averaged weighted by part size —
    /// the same gradient as one pass over the whole batch, up to float summation order.
    public var workers: Int { parallel.workers }
    private var parallel: DataParallel

    public init(
        model: Sequential, optimizer: any Optimizer, schedule: LearningRateSchedule, batcher: Batcher,
        workers: Int = 1
    ) {
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.batcher = batcher
        parallel = DataParallel(model: model, workers: workers)
        densePerSampleFLOPs = model.trainingFLOPs(activeOnly: false)
        optimizer.team = parallel.team
    }

    /// Trains on after the model's layers were replaced by smaller ones (units removed, see
    /// `Compaction.removeUnits`): the optimizer takes the model's new parameters with its state
    /// gathered at `keeping` (flat indices of the old entries per changed parameter), and the
    /// data-parallel workers get replicas of the new layers (dropout streams numbered as before).
    public func modelLayersDidChange(keeping: [String: [Int]]) {
        optimizer.replaceParameters(model.parameters, keeping: keeping)
        for case let d as Dropout in model.leafLayers { d.restartReplicaNumbering() }
        parallel = DataParallel(model: model, workers: parallel.workers)
        optimizer.team = parallel.team
    }

    /// Puts the loop where a checkpoint left it (at an epoch boundary).
    public func restore(step: Int, epoch: Int, flops: Int, denseFLOPs: Int) {
        self.step = step
        self.epoch = epoch
        self.flops = flops
        self.denseFLOPs = denseFLOPs
    }

    /// Forward, loss and backward for one batch, leaving the batch-mean gradient in the
    /// model's parameters (no optimizer step) and the batch's statistics in every batch norm's
    /// running statistics (pooled over the data-parallel parts). Also used by criteria that need gradients on
    /// batches of their own.
    public func computeGradients(_ x: Tensor, _ y: ArraySlice<Int>) -> (loss: Double, correct: Int) {
        let n = y.count
        let k = workers
        guard k > 1, n >= 2 * k else { return singlePassGradients(y) { model.forward(x, training: true) } }
        let bounds = Batcher.bounds(n, parts: k)
        let size = x.rowSize
        let sampleShape = Array(x.shape.dropFirst())
        let parts = (0..<k).map { i in
            Tensor(shape: [bounds[i + 1] - bounds[i]] + sampleShape, scalars: Array(x.scalars[(bounds[i] * size)..<(bounds[i + 1] * size)]))
        }
        return computeGradients(parts: parts, y)
    }

    /// Forward (by `forward`), loss and backward on the master alone.
    private func singlePassGradients(_ y: ArraySlice<Int>, forward: () -> Tensor) -> (loss: Double, correct: Int) {
        let logits = forward()
        model.commitBatchStatistics()
        let r = model.loss.evaluate(logits: logits, labels: y, wantGradient: true)
        if r.loss.isFinite { model.backward(r.gradient) }
        return (r.loss, r.correct)
    }

    /// `computeGradients(_:_:)` on a batch already split by `Batcher.bounds` into one part per
    /// worker (`y` holds the labels of all parts in order).
    func computeGradients(parts: [Tensor], _ y: ArraySlice<Int>) -> (loss: Double, correct: Int) {
        computeGradients(parts: parts.count, y) { parts[$0] }
    }

    /// `computeGradients(parts:_:)` with part `i` made by `part(i)` on the worker that runs it
    /// (so the workers gather their rows at the same time instead of one after the other).
    func computeGradients(parts k: Int, _ y: ArraySlice<Int>, part: (Int) -> Tensor) -> (loss: Double, correct: Int) {
        computeGradients(parts: k, y) { i, m in m.forward(part(i), training: true) }
    }

    /// `computeGradients(parts:_:part:)` with the forward pass of part `i` on model `m` run by
    /// `forward(i, m)` on the worker that runs it.
    private func computeGradients(
        parts k: Int, _ y: ArraySlice<Int>, forward: (Int, Sequential) -> Tensor
    ) -> (loss: Double, correct: Int) {
        let n = y.count
        let bounds = Batcher.bounds(n, parts: k)
        let results = parallel.run(parts: k) { i, m -> (Double, Int) in
            let lo = bounds[i], hi = bounds[i + 1]
            let logits = forward(i, m)
            let r = m.loss.evaluate(logits: logits, labels: y[(y.startIndex + lo)..<(y.startIndex + hi)], wantGradient: true)
            if r.loss.isFinite { m.backward(r.gradient) }
            return (r.loss, r.correct)
        }
        let weights = (0..<k).map { Float(bounds[$0 + 1] - bounds[$0]) / Float(n) }
        parallel.reduceGradients(weights: weights)
        parallel.commitBatchStatistics(parts: k)
        var loss = 0.0, correct = 0
        for i in 0..<k {
            loss += results[i].0 * Double(weights[i])
            correct += results[i].1
        }
        return (loss, correct)
    }

    /// Gathers the batch `order[range]` and computes its gradients; with several workers each
    /// worker gathers its own rows into its own part, in parallel. An augmented batch is copied
    /// and augmented first, then split among the workers. The rows go to the model as a
    /// `RowGather`, so a sparse first layer reads them from the set itself (no batch copy).
    private func gradients(order: [Int], range: Range<Int>) -> (result: (loss: Double, correct: Int), labels: ArraySlice<Int>) {
        let y = batcher.labels(order: order, range: range)
        if batcher.augmentation != nil {
            return (computeGradients(batcher.augmentedBatch(order: order, range: range), y), y)
        }
        let batcher = batcher
        if workers > 1 && range.count >= 2 * workers {
            let k = workers
            let result = computeGradients(parts: k, y) { i, m in
                m.forward(gathering: batcher.rows(i, of: k, order: order, range: range), training: true)
            }
            return (result, y)
        }
        if range.count == batcher.count && !batcher.shuffle {
            return (computeGradients(batcher.images, y), y)  // full batch in natural order: the set as it is
        }
        return (singlePassGradients(y) { model.forward(gathering: batcher.rows(0, of: 1, order: order, range: range), training: true) }, y)
    }

    /// Runs until `steps` more optimizer steps were taken, or an observer says stop.
    /// Throws `TrainingError.diverged` when a batch loss is not finite (before stepping on it).
    @discardableResult
    public func train(steps: Int) throws -> Int {
        let target = step + steps
        for o in observers { o.trainingWillStart(self) }
        defer { for o in observers { o.trainingDidEnd(self) } }
        let perSampleDense = densePerSampleFLOPs
        while step < target {
            epoch += 1
            let order = batcher.nextEpochOrder()
            var epochLoss = 0.0, epochCorrect = 0, seen = 0
            let nb = batcher.batchesPerEpoch
            var b = 0
            while b < nb && step < target {
                let lo = b * batcher.batchSize, hi = min(batcher.count, lo + batcher.batchSize)
                for h in gradientHooks { h.willComputeGradients(self) }
                let (r, y) = gradients(order: order, range: lo..<hi)
                for h in gradientHooks.reversed() { h.didComputeGradients(self) }
                guard r.loss.isFinite else {
                    throw TrainingError.diverged(step: step + 1, epoch: epoch, loss: r.loss)
                }
                let lr = schedule.learningRate(atStep: step + scheduleOffset)
                optimizer.step(learningRate: lr)
                step += 1
                b += 1
                let stepFLOPs = model.trainingFLOPs(activeOnly: true) * y.count
                flops += stepFLOPs
                denseFLOPs += perSampleDense * y.count
                epochLoss += r.loss * Double(y.count)
                epochCorrect += r.correct
                seen += y.count
                let info = StepInfo(
                    step: step, epoch: epoch, batchInEpoch: b, batchesPerEpoch: nb,
                    loss: r.loss, correct: r.correct, batchSize: y.count,
                    learningRate: lr, flops: stepFLOPs, denseFLOPs: perSampleDense * y.count)
                var stop = false
                for o in observers where o.stepDidEnd(info, trainer: self) == .stop { stop = true }
                if stop { return step }
                if let sig = interruption(step) { throw TrainingError.interrupted(signal: sig, step: step) }
            }
            let info = EpochInfo(
                epoch: epoch, step: step, trainLoss: epochLoss / Double(max(seen, 1)),
                trainAccuracy: Double(epochCorrect) / Double(max(seen, 1)))
            if let limit = divergenceLimit, seen > 0, info.trainLoss > limit {
                throw TrainingError.diverged(step: step, epoch: epoch, loss: info.trainLoss)
            }
            var stop = false
            for o in observers where o.epochDidEnd(info, trainer: self) == .stop { stop = true }
            if stop { return step }
        }
        return step
    }
}

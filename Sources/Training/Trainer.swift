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

/// Training failed in a way the user must hear about.
public enum TrainingError: Error, CustomStringConvertible {
    case diverged(step: Int, epoch: Int, loss: Double)

    public var description: String {
        switch self {
        case .diverged(let step, let epoch, let loss):
            return "training diverged at step \(step) (epoch \(epoch)): loss is \(loss)"
        }
    }
}

/// The mini-batch training loop: forward, loss, backward, optimizer step, events.
public final class Trainer {
    public let model: Sequential
    public let optimizer: SGD
    public var schedule: LearningRateSchedule
    public var batcher: Batcher
    public var observers: [TrainingObserver] = []

    /// Optimizer steps taken by this trainer.
    public private(set) var step = 0
    public private(set) var epoch = 0
    /// FLOPs executed so far (unmasked weights only) and the dense equivalent.
    public private(set) var flops = 0
    public private(set) var denseFLOPs = 0
    /// Offset added to the step passed to the schedule (for resumed pipelines).
    public var scheduleOffset = 0

    public init(model: Sequential, optimizer: SGD, schedule: LearningRateSchedule, batcher: Batcher) {
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.batcher = batcher
    }

    /// Runs until `steps` more optimizer steps were taken, or an observer says stop.
    /// Throws `TrainingError.diverged` when a batch loss is not finite (before stepping on it).
    @discardableResult
    public func train(steps: Int) throws -> Int {
        let target = step + steps
        for o in observers { o.trainingWillStart(self) }
        defer { for o in observers { o.trainingDidEnd(self) } }
        let perSampleDense = model.trainingFLOPs(activeOnly: false)
        while step < target {
            epoch += 1
            let order = batcher.nextEpochOrder()
            var epochLoss = 0.0, epochCorrect = 0, seen = 0
            let nb = batcher.batchesPerEpoch
            var b = 0
            while b < nb && step < target {
                let lo = b * batcher.batchSize, hi = min(batcher.count, lo + batcher.batchSize)
                let (x, y) = batcher.batch(order: order, range: lo..<hi)
                let logits = model.forward(x, training: true)
                let r = model.loss.evaluate(logits: logits, labels: y, wantGradient: true)
                guard r.loss.isFinite else {
                    throw TrainingError.diverged(step: step + 1, epoch: epoch, loss: r.loss)
                }
                model.backward(r.gradient)
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
                let info = StepInfo(step: step, epoch: epoch, batchInEpoch: b, batchesPerEpoch: nb,
                                    loss: r.loss, correct: r.correct, batchSize: y.count,
                                    learningRate: lr, flops: stepFLOPs, denseFLOPs: perSampleDense * y.count)
                var stop = false
                for o in observers where o.stepDidEnd(info, trainer: self) == .stop { stop = true }
                if stop { return step }
            }
            let info = EpochInfo(epoch: epoch, step: step, trainLoss: epochLoss / Double(max(seen, 1)),
                                 trainAccuracy: Double(epochCorrect) / Double(max(seen, 1)))
            var stop = false
            for o in observers where o.epochDidEnd(info, trainer: self) == .stop { stop = true }
            if stop { return step }
        }
        return step
    }
}

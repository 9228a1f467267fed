import Foundation
import TensorCore
import NN
import Training
import Datasets
import Schema

/// A model, its optimizer and its training loop, built from a config on loaded data.
///
/// Initial weights draw from `seed ▶ "init"`, data order from `seed ▶ "data"`, dropout
/// masks from `seed ▶ "dropout"` and crops and flips (`data.augment`) from `seed ▶ "augment"`, so two
/// sessions of the same config and seed start from the same weights and see the same batches,
/// whatever method later prunes them.
public final class TrainingSession {
    public let config: ExperimentConfig
    public let data: DataSplit
    public let model: Sequential
    public let optimizer: any Optimizer
    public let trainer: Trainer
    /// Optimizer steps of the configured training (before any retraining).
    public let plannedSteps: Int
    /// Threads the session trains with (data-parallel workers or BLAS threads).
    public let threads: Int
    /// Wall, evaluation and analysis seconds of the run.
    public let clock = RunClock()
    /// Prunable weights of the network as configured: what `sparsity` is a fraction of, also
    /// after units left the network during training.
    public private(set) var configuredWeightCount = 0

    public init(config: ExperimentConfig, data: DataSplit) throws {
        self.config = config
        self.data = data
        let t = config.training
        let root = RandomSource(seed: config.seed)
        model = try ModelRegistry.build(
            config.model, inputShape: data.train.sampleShape,
            classCount: data.train.classCount)
        var initRNG = root.derived("init")
        ModelRegistry.initializer(config.model).initialize(model, rng: &initRNG)
        model.seedDropout(root.derived("dropout"))
        if let file = config.model.initFile { try ModelFiles.load(path: file, into: model) }
        configuredWeightCount = model.weightCounts.total
        var batcher = Batcher(
            images: data.train.images, labels: data.train.labels,
            batchSize: t.batchSize.count, shuffle: true, rng: root.derived("data"))
        let augment = config.data.augment
        if augment.enabled {
            let side = data.train.sampleShape.dropFirst().min() ?? 0
            guard data.train.sampleShape.count == 3, augment.pad <= side else {
                throw ConfigError(
                    path: "data.augment.pad", "must be at most the images' height and width (\(data.train.sampleShape)), got \(augment.pad)"
                )
            }
            batcher.augmentation = Augmentation(pad: augment.pad, flip: augment.flip, rng: root.derived("augment"))
        }
        let perEpoch = batcher.batchesPerEpoch
        plannedSteps = try StepBudget.plannedSteps(config, perEpoch: perEpoch)
        switch t.optimizer {
        case .sgd:
            optimizer = SGD(parameters: model.parameters, momentum: t.momentum, nesterov: t.nesterov, weightDecay: t.weightDecay)
        case .adam:
            optimizer = Adam(
                parameters: model.parameters, beta1: t.adam.beta1, beta2: t.adam.beta2,
                epsilon: t.adam.epsilon, weightDecay: t.weightDecay)
        }
        let schedule = Self.learningRateSchedule(t, perEpoch: perEpoch, plannedSteps: plannedSteps)
        let threads = t.threads > 0 ? t.threads : ProcessInfo.processInfo.activeProcessorCount
        switch t.parallelism {
        case .data:
            BLAS.threads = 1
            trainer = Trainer(model: model, optimizer: optimizer, schedule: schedule, batcher: batcher, workers: threads)
        case .blas:
            BLAS.threads = threads
            trainer = Trainer(model: model, optimizer: optimizer, schedule: schedule, batcher: batcher)
        }
        self.threads = threads
        if t.quantize.enabled {
            trainer.gradientHooks = [QuantizationHook(spec: t.quantize.spec, startStep: (t.quantize.startEpoch - 1) * perEpoch)]
        }
        trainer.divergenceLimit = t.divergenceFactor * log(Double(max(2, data.train.classCount)))
    }

    public var stepsPerEpoch: Int { trainer.batcher.batchesPerEpoch }

    /// The learning rate schedule of `training`, with `perEpoch` steps per epoch and
    /// `plannedSteps` in all (the cosine schedule's length).
    public static func learningRateSchedule(_ t: TrainingConfig, perEpoch: Int, plannedSteps: Int) -> LearningRateSchedule {
        let kind: LearningRateSchedule.Kind
        switch t.schedule.kind {
        case .constant: kind = .constant
        case .step: kind = .step(every: t.schedule.every.steps(perEpoch: perEpoch), gamma: t.schedule.gamma)
        case .cosine: kind = .cosine(total: plannedSteps, minimum: t.schedule.minLearningRate)
        }
        return LearningRateSchedule(base: t.learningRate, kind: kind, warmupSteps: t.schedule.warmup.steps(perEpoch: perEpoch))
    }

    /// Threads for evaluation passes: the data-parallel workers (BLAS runs single-threaded then);
    /// 1 with BLAS threading, which already uses every thread.
    public var evaluationWorkers: Int { config.training.parallelism == .data ? threads : 1 }

    /// Evaluates the test set (its time counts as evaluation in `clock`).
    public func evaluateTest() -> Evaluation {
        clock.evaluation { Evaluation.run(model, images: data.test.images, labels: data.test.labels, workers: evaluationWorkers) }
    }

    /// Evaluates the training set (its time counts as evaluation in `clock`).
    public func evaluateTrain() -> Evaluation {
        clock.evaluation { Evaluation.run(model, images: data.train.images, labels: data.train.labels, workers: evaluationWorkers) }
    }
}

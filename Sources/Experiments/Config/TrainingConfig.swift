import Foundation
import Schema

/// Optimizer, schedule and length of training.
public struct TrainingConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        ("epochs", "training length in epochs"),
        ("steps", "training length in optimizer steps; overrides `epochs` when > 0"),
        ("batch_size", "samples per step, >= 1, or `\"full\"` (full-batch gradient descent)"),
        ("optimizer", "`sgd` (momentum, Nesterov, PyTorch's equations) or `adam` (settings under `adam`)"),
        ("learning_rate", "base learning rate, > 0"),
        ("momentum", "`sgd` momentum in [0, 1) (dampening 0)"),
        ("nesterov", "`sgd`: Nesterov momentum (needs momentum > 0)"),
        ("weight_decay", "L2 coefficient added to weight gradients (not biases)"),
        ("adam", "`adam` settings: `beta1`, `beta2`, `epsilon`"),
        (
            "divergence_factor",
            "the run fails as diverged when an epoch's mean training loss exceeds this times ln(classes) (the loss of a uniform guess), or is not finite"
        ),
        ("schedule", "learning-rate schedule, see `training.schedule`"),
        ("eval_every", "test-set evaluation period (metrics.csv)"),
        ("log_every", "training loss/accuracy logging period (metrics.csv)"),
        ("threads", "threads (0: one per core); results are reproducible for the same count and parallelism"),
        (
            "parallelism",
            "`data`: each thread takes a slice of every batch on its own model replica, single-threaded BLAS; `blas`: OpenBLAS threads inside each product"
        ),
        ("quantize", "quantization-aware training, see `training.quantize`"),
        (
            "kernel",
            "products of masked layers: `auto` runs the sparse kernels (CSR forward and input gradient, weight gradient at unmasked entries) on a dense layer, and a direct sparse convolution over the live taps (no im2col columns) on a conv layer, once its density is at most 0.4 (a conv layer with at most 25 taps per output, such as one input channel at 5x5, at any density), a fixed rule; `measured` where both kernels were timed for the layer's shape, batch and density band and sparse was faster (fastest, but a timing: two processes may choose differently and differ in the last bits, and a resumed run may not match exactly); `dense` always SGEMM; `sparse` the sparse kernels once masked. Unmasked layers always run SGEMM. `kernels.csv` records which kernel each layer ran from which step"
        ),
    ]
    /// Training length in epochs; ignored when `steps` > 0.
    public var epochs: Int
    /// Training length in optimizer steps (0: use `epochs`).
    public var steps: Int
    /// Samples per step, or the whole training set (`"full"`: full-batch gradient descent).
    public var batchSize: BatchSize
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    public var schedule: ScheduleConfig
    /// How often the test set is evaluated into metrics.csv.
    public var evalEvery: Duration
    /// How often the mean training loss is logged.
    public var logEvery: Duration
    /// Threads (0: one per core).
    public var threads: Int
    /// How threads are used: `data` (each takes a slice of the batch on its own model replica,
    /// single-threaded BLAS) or `blas` (one pass, OpenBLAS's threads inside each product).
    public var parallelism: Parallelism
    public enum Parallelism: String, Codable, Sendable, CaseIterable { case data, blas }
    /// Products of masked dense layers: `auto` (sparse kernels where measured faster per layer
    /// and density band), `dense` (always SGEMM) or `sparse` (sparse kernels once masked).
    public var kernel: Kernel
    public enum Kernel: String, Codable, Sendable, CaseIterable { case auto, measured, dense, sparse }
    public enum OptimizerName: String, Codable, Sendable, CaseIterable { case sgd, adam }
    public var optimizer: OptimizerName
    /// An epoch's mean training loss above `divergence_factor · ln(classes)` is divergence.
    public var divergenceFactor: Double
    public var adam: AdamConfig
    /// Quantization-aware training (off unless `bits` > 0).
    public var quantize: QuantizeConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case epochs, steps, batchSize = "batch_size", learningRate = "learning_rate", momentum, nesterov
        case kernel, quantize
        case weightDecay = "weight_decay", optimizer, adam, divergenceFactor = "divergence_factor", schedule, evalEvery = "eval_every",
            logEvery = "log_every", threads, parallelism
    }

    static func defaults() throws -> TrainingConfig {
        try JSONDecoder().decode(TrainingConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.value(.epochs, default: 10)
        steps = try c.value(.steps, default: 0)
        batchSize = try c.value(.batchSize, default: .samples(128))
        learningRate = try c.value(.learningRate, default: 0.05)
        momentum = try c.value(.momentum, default: 0.9)
        nesterov = try c.value(.nesterov, default: false)
        weightDecay = try c.value(.weightDecay, default: 0)
        optimizer = try c.value(.optimizer, default: .sgd)
        divergenceFactor = try c.value(.divergenceFactor, default: 100)
        adam = try c.value(.adam, default: try AdamConfig.defaults())
        schedule = try c.value(.schedule, default: try ScheduleConfig.defaults())
        evalEvery = try c.value(.evalEvery, default: Duration(1, .epochs))
        logEvery = try c.value(.logEvery, default: Duration(1, .epochs))
        threads = try c.value(.threads, default: 0)
        parallelism = try c.value(.parallelism, default: .data)
        kernel = try c.value(.kernel, default: .auto)
        quantize = try c.value(.quantize, default: try QuantizeConfig.defaults())
    }

    public func validate(at path: String = "training") throws {
        if epochs < 0 { throw ConfigError(path: "training.epochs", "must be >= 0, got \(epochs)") }
        if steps < 0 { throw ConfigError(path: "training.steps", "must be >= 0, got \(steps)") }
        if epochs == 0 && steps == 0 { throw ConfigError(path: "training", "set \"epochs\" or \"steps\" above 0") }
        if case .samples(let n) = batchSize, n <= 0 {
            throw ConfigError(path: "training.batch_size", "must be >= 1 (or \"full\" for full-batch), got \(n)")
        }
        if !(learningRate > 0) || !learningRate.isFinite {
            throw ConfigError(path: "training.learning_rate", "must be > 0, got \(learningRate)")
        }
        if !(momentum >= 0 && momentum < 1) { throw ConfigError(path: "training.momentum", "must be in [0, 1), got \(momentum)") }
        if nesterov && momentum == 0 { throw ConfigError(path: "training.nesterov", "needs momentum > 0") }
        if !(weightDecay >= 0) { throw ConfigError(path: "training.weight_decay", "must be >= 0, got \(weightDecay)") }
        if evalEvery.amount <= 0 { throw ConfigError(path: "training.eval_every", "must be positive, got \(evalEvery)") }
        if logEvery.amount <= 0 { throw ConfigError(path: "training.log_every", "must be positive, got \(logEvery)") }
        if threads < 0 { throw ConfigError(path: "training.threads", "must be >= 0, got \(threads)") }
        if threads > 256 { throw ConfigError(path: "training.threads", "must be <= 256, got \(threads)") }
        try schedule.validate(base: learningRate)
        try adam.validate(at: "training.adam")
        try quantize.validate(at: "training.quantize")
        if !(divergenceFactor > 1) { throw ConfigError(path: "training.divergence_factor", "must be > 1, got \(divergenceFactor)") }
    }
}

/// The learning-rate schedule: `constant`, `step` (multiply by `gamma` every `every`) or
/// `cosine` (from the base rate to `min_learning_rate` over the whole run), after an optional
/// linear warm-up of `warmup`.
public struct ScheduleConfig: ConfigSection {
    public enum Kind: String, Codable, Sendable, CaseIterable { case constant, step, cosine }
    public static let keyHelp: [(key: String, help: String)] = [
        ("kind", "`constant`, `step` (× `gamma` every `every`) or `cosine` (base → `min_learning_rate` over the run)"),
        ("every", "`step` schedule period"),
        ("gamma", "`step` schedule factor"),
        ("min_learning_rate", "`cosine` floor"),
        ("warmup", "linear warm-up length"),
    ]
    public var kind: Kind
    public var every: Duration
    public var gamma: Double
    public var minLearningRate: Double
    public var warmup: Duration

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, every, gamma, minLearningRate = "min_learning_rate", warmup
    }

    static func defaults() throws -> ScheduleConfig {
        try JSONDecoder().decode(ScheduleConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.value(.kind, default: .constant)
        every = try c.value(.every, default: Duration(10, .epochs))
        gamma = try c.value(.gamma, default: 0.1)
        minLearningRate = try c.value(.minLearningRate, default: 0)
        warmup = try c.value(.warmup, default: Duration(0, .steps))
    }

    func validate(base: Double) throws {
        if every.amount <= 0 { throw ConfigError(path: "training.schedule.every", "must be positive, got \(every)") }
        if !(gamma > 0) { throw ConfigError(path: "training.schedule.gamma", "must be > 0, got \(gamma)") }
        if !(minLearningRate >= 0 && minLearningRate <= base) {
            throw ConfigError(path: "training.schedule.min_learning_rate", "must be in [0, learning_rate], got \(minLearningRate)")
        }
    }
}

/// Samples per optimizer step: a count, or `"full"` for the whole training set.
public enum BatchSize: Codable, Equatable, Sendable {
    case samples(Int)
    case full

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            self = .samples(n)
        } else if let s = try? c.decode(String.self), s == "full" {
            self = .full
        } else {
            throw ConfigError(path: jsonPath(decoder.codingPath), "expected a positive integer or \"full\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .samples(let n): try c.encode(n)
        case .full: try c.encode("full")
        }
    }

    /// The count for the `Batcher` (0 there means the whole set).
    public var count: Int {
        if case .samples(let n) = self { return n }
        return 0
    }
}

/// Adam's settings (`training.optimizer` `adam`).
public struct AdamConfig: ConfigSection {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case beta1, beta2, epsilon }

    public static let keyHelp: [(key: String, help: String)] = [
        ("beta1", "decay of the first moment, [0, 1)"),
        ("beta2", "decay of the second moment, [0, 1)"),
        ("epsilon", "added to the root of the second moment, > 0"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        beta1 = try c.value(.beta1, default: 0.9)
        beta2 = try c.value(.beta2, default: 0.999)
        epsilon = try c.value(.epsilon, default: 1e-8)
    }

    public func validate(at path: String) throws {
        for (k, v) in [("beta1", beta1), ("beta2", beta2)] where !(v >= 0 && v < 1) {
            throw ConfigError(path: child(path, k), "must be in [0, 1), got \(v)")
        }
        if !(epsilon > 0) { throw ConfigError(path: child(path, "epsilon"), "must be > 0, got \(epsilon)") }
    }
}

import Foundation

/// A whole experiment, decoded strictly from JSON. See `configs/README.md` for every key.
///
/// Defaults live here and only here; `config.json` in a run folder is this struct re-encoded,
/// so it lists every value the run used.
public struct ExperimentConfig: Codable, Equatable, Sendable {
    public var name: String
    public var seed: UInt64
    public var data: DataConfig
    public var model: ModelConfig
    public var training: TrainingConfig
    public var pruning: PruningConfig
    public var recording: RecordingConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, seed, data, model, training, pruning, recording
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.value(.name, default: "experiment")
        seed = try c.value(.seed, default: 1)
        data = try c.decode(DataConfig.self, forKey: .data)
        model = try c.decode(ModelConfig.self, forKey: .model)
        training = try c.value(.training, default: try TrainingConfig.defaults())
        pruning = try c.value(.pruning, default: try PruningConfig.defaults())
        recording = try c.value(.recording, default: try RecordingConfig.defaults())
    }

    /// Range checks that the type system cannot express; throws with the offending path.
    public func validate() throws {
        guard !name.isEmpty else { throw ConfigError(path: "name", "must not be empty") }
        try data.validate()
        try model.validate()
        try training.validate()
        try pruning.validate()
        try recording.validate()
    }
}

/// Where the images come from.
///
/// `format` `idx`: `dir` holds the four MNIST-format files (gzip or raw, canonical or dotted
/// names). `format` `hdf5`: `train_file` holds `x_train`/`y_train` and `test_file` (default:
/// the same file) holds `x_test`/`y_test`. Relative paths are taken from the current directory.
public struct DataConfig: Codable, Equatable, Sendable {
    public enum Format: String, Codable, Sendable { case idx, hdf5 }
    public var format: Format
    public var dir: String?
    public var trainFile: String?
    public var testFile: String?
    public var xTrain: String
    public var yTrain: String
    public var xTest: String
    public var yTest: String
    /// Use only the first N samples (0: all).
    public var trainLimit: Int
    public var testLimit: Int
    /// Number of classes; 0 infers it (10 for IDX, max label + 1 but at least 2 for HDF5).
    public var classes: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, dir
        case trainFile = "train_file", testFile = "test_file"
        case xTrain = "x_train", yTrain = "y_train", xTest = "x_test", yTest = "y_test"
        case trainLimit = "train_limit", testLimit = "test_limit", classes
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Format.self, forKey: .format)
        dir = try c.value(.dir, default: nil)
        trainFile = try c.value(.trainFile, default: nil)
        testFile = try c.value(.testFile, default: nil)
        xTrain = try c.value(.xTrain, default: "X_train")
        yTrain = try c.value(.yTrain, default: "y_train")
        xTest = try c.value(.xTest, default: "X_test")
        yTest = try c.value(.yTest, default: "y_test")
        trainLimit = try c.value(.trainLimit, default: 0)
        testLimit = try c.value(.testLimit, default: 0)
        classes = try c.value(.classes, default: 0)
    }

    func validate() throws {
        switch format {
        case .idx:
            guard dir != nil else { throw ConfigError(path: "data.dir", "required when data.format is \"idx\"") }
        case .hdf5:
            guard trainFile != nil else { throw ConfigError(path: "data.train_file", "required when data.format is \"hdf5\"") }
        }
        if trainLimit < 0 { throw ConfigError(path: "data.train_limit", "must be >= 0, got \(trainLimit)") }
        if testLimit < 0 { throw ConfigError(path: "data.test_limit", "must be >= 0, got \(testLimit)") }
        if classes < 0 || classes == 1 { throw ConfigError(path: "data.classes", "must be 0 (infer) or >= 2, got \(classes)") }
    }

    /// A short name for summaries: the IDX folder or the HDF5 train file, without extension.
    public var displayName: String {
        let path = (format == .idx ? dir : trainFile) ?? "data"
        let last = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return last
    }
}

/// One layer of a model written out in the config.
///
/// - `dense`: `units`, `activation` (default `none`).
/// - `conv`: `filters`, `kernel` (square), `stride` (default 1), `padding` (zeros on every
///   side, default 0), `activation` (default `none`).
/// - `pool`: max pooling over `kernel` x `kernel` windows, `stride` (default `kernel`).
/// - `flatten`: no keys; inserted by itself before the first dense layer after a conv or pool.
public struct LayerSpec: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case dense, conv, pool, flatten }
    public enum ActivationName: String, Codable, Sendable { case relu, sigmoid, tanh, none, softmax }
    public var type: Kind
    public var units: Int?
    public var filters: Int?
    public var kernel: Int?
    public var stride: Int?
    public var padding: Int?
    public var activation: ActivationName?

    enum CodingKeys: String, CodingKey, CaseIterable { case type, units, filters, kernel, stride, padding, activation }

    /// The keys each kind accepts besides `type`.
    static let allowed: [Kind: Set<CodingKeys>] = [
        .dense: [.units, .activation],
        .conv: [.filters, .kernel, .stride, .padding, .activation],
        .pool: [.kernel, .stride],
        .flatten: [],
    ]

    public init(units: Int, activation: ActivationName) {
        type = .dense
        self.units = units
        self.activation = activation
    }

    public static func conv(filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            activation: ActivationName = .none) -> LayerSpec {
        var l = LayerSpec(type: .conv)
        l.filters = filters
        l.kernel = kernel
        l.stride = stride
        l.padding = padding
        l.activation = activation
        return l
    }

    public static func pool(kernel: Int, stride: Int? = nil) -> LayerSpec {
        var l = LayerSpec(type: .pool)
        l.kernel = kernel
        l.stride = stride ?? kernel
        return l
    }

    init(type: Kind) { self.type = type }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.value(.type, default: .dense)
        for key in c.allKeys where key != .type && !(LayerSpec.allowed[type]?.contains(key) ?? false) {
            throw ConfigError(path: jsonPath(c.codingPath + [key]), "not a key of a \"\(type.rawValue)\" layer")
        }
        switch type {
        case .dense:
            units = try c.decode(Int.self, forKey: .units)
            activation = try c.value(.activation, default: ActivationName.none)
        case .conv:
            filters = try c.decode(Int.self, forKey: .filters)
            kernel = try c.decode(Int.self, forKey: .kernel)
            stride = try c.value(.stride, default: 1)
            padding = try c.value(.padding, default: 0)
            activation = try c.value(.activation, default: ActivationName.none)
        case .pool:
            kernel = try c.decode(Int.self, forKey: .kernel)
            stride = try c.value(.stride, default: kernel!)
        case .flatten:
            break
        }
    }

    /// Whether this layer ends the network with `softmax` or `sigmoid`.
    var outputActivation: ActivationName { activation ?? .none }

    /// Checks the numbers of layer `i` (shapes are checked against the data when the model is built).
    func validate(index i: Int, isLast: Bool) throws {
        let at = "model.layers[\(i)]"
        func positive(_ v: Int?, _ key: String) throws {
            if let v, v <= 0 { throw ConfigError(path: "\(at).\(key)", "must be > 0, got \(v)") }
        }
        try positive(units, "units")
        try positive(filters, "filters")
        try positive(kernel, "kernel")
        try positive(stride, "stride")
        if let p = padding, p < 0 { throw ConfigError(path: "\(at).padding", "must be >= 0, got \(p)") }
        if !isLast && activation == .softmax {
            throw ConfigError(path: "\(at).activation", "softmax is only allowed on the last layer")
        }
    }
}

/// The network: a named preset or a list of layers, and the weight initializer.
///
/// The last layer's activation picks the loss: `softmax` (cross-entropy over `units` classes)
/// or `sigmoid` (binary cross-entropy, `units` 1). Hidden layers use relu, sigmoid, tanh or none.
public struct ModelConfig: Codable, Equatable, Sendable {
    public enum InitName: String, Codable, Sendable { case he, xavier, normal }
    public var preset: String?
    public var layers: [LayerSpec]?
    public var initializer: InitName
    /// Standard deviation for `normal`; absent means `1/sqrt(fan_in)`.
    public var initScale: Double?
    /// Initial weights from a model file (`model.h5` layout: `fc1/weight`, `fc1/bias`, optional
    /// `fc1/mask`; root attribute `format` = `prunelab-dense-1`) instead of `init`.
    public var initFile: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case preset, layers, initializer = "init", initScale = "init_scale", initFile = "init_file"
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.value(.preset, default: nil)
        layers = try c.value(.layers, default: nil)
        initializer = try c.value(.initializer, default: .he)
        initScale = try c.value(.initScale, default: nil)
        initFile = try c.value(.initFile, default: nil)
    }

    func validate() throws {
        switch (preset, layers) {
        case (nil, nil): throw ConfigError(path: "model", "give either \"preset\" or \"layers\"")
        case (.some, .some): throw ConfigError(path: "model", "give either \"preset\" or \"layers\", not both")
        case (.some(let p), nil):
            guard ModelRegistry.presetNames.contains(p) else {
                throw ConfigError(path: "model.preset", "unknown preset \"\(p)\"; known: \(ModelRegistry.presetNames.joined(separator: ", "))")
            }
        case (nil, .some(let ls)):
            guard !ls.isEmpty else { throw ConfigError(path: "model.layers", "must not be empty") }
            for (i, l) in ls.enumerated() { try l.validate(index: i, isLast: i == ls.count - 1) }
            let n = ls.count - 1
            guard let last = ls.last, last.type == .dense,
                  last.outputActivation == .softmax || last.outputActivation == .sigmoid else {
                throw ConfigError(path: "model.layers[\(n)]", "the last layer must be dense with \"softmax\" or \"sigmoid\"")
            }
            if last.outputActivation == .sigmoid && last.units != 1 {
                throw ConfigError(path: "model.layers[\(n)].units", "a sigmoid output has 1 unit, got \(last.units ?? 0)")
            }
        }
        if let s = initScale, !(s > 0) { throw ConfigError(path: "model.init_scale", "must be > 0, got \(s)") }
    }
}

/// How long, written `2ep` (epochs) or `500it` (optimizer steps).
public struct Duration: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Unit: String, Sendable { case epochs = "ep", steps = "it" }
    public var amount: Int
    public var unit: Unit

    public init(_ amount: Int, _ unit: Unit) {
        self.amount = amount
        self.unit = unit
    }

    public init(parsing s: String) throws {
        let t = s.trimmingCharacters(in: .whitespaces)
        for u in [Unit.epochs, .steps] where t.hasSuffix(u.rawValue) {
            if let n = Int(t.dropLast(u.rawValue.count)), n >= 0 {
                self.init(n, u)
                return
            }
        }
        throw ConfigError(path: "", "\"\(s)\" is not a duration; write e.g. \"2ep\" or \"500it\"")
    }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: s) } catch let e as ConfigError {
            throw ConfigError(path: jsonPath(decoder.codingPath), e.message)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String { "\(amount)\(unit.rawValue)" }

    /// In optimizer steps, given the steps of one epoch.
    public func steps(perEpoch: Int) -> Int { unit == .steps ? amount : amount * perEpoch }
}

/// Optimizer, schedule and length of training.
public struct TrainingConfig: Codable, Equatable, Sendable {
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
    public enum Parallelism: String, Codable, Sendable { case data, blas }
    /// Products of masked dense layers: `auto` (sparse kernels where measured faster per layer
    /// and density band), `dense` (always SGEMM) or `sparse` (sparse kernels once masked).
    public var kernel: Kernel
    public enum Kernel: String, Codable, Sendable { case auto, dense, sparse }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case epochs, steps, batchSize = "batch_size", learningRate = "learning_rate", momentum, nesterov
        case weightDecay = "weight_decay", schedule, evalEvery = "eval_every", logEvery = "log_every", threads, parallelism
        case kernel
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
        schedule = try c.value(.schedule, default: try ScheduleConfig.defaults())
        evalEvery = try c.value(.evalEvery, default: Duration(1, .epochs))
        logEvery = try c.value(.logEvery, default: Duration(1, .epochs))
        threads = try c.value(.threads, default: 0)
        parallelism = try c.value(.parallelism, default: .data)
        kernel = try c.value(.kernel, default: .auto)
    }

    func validate() throws {
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
    }
}

/// The learning-rate schedule: `constant`, `step` (multiply by `gamma` every `every`) or
/// `cosine` (from the base rate to `min_learning_rate` over the whole run), after an optional
/// linear warm-up of `warmup`.
public struct ScheduleConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case constant, step, cosine }
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

import Foundation
import NN

/// What `prunelab bench` trains: a model preset on an MNIST IDX folder with SGD (lr 0.05,
/// momentum 0.9, seed 1), built as a config value.
public struct BenchmarkSetup: Sendable {
    /// The model presets the benchmark times.
    public enum Model: String, CaseIterable, Sendable {
        case lenet300 = "lenet-300-100"
        case lenet5 = "lenet-5"
    }

    /// How `bench --sparsity` runs the masked layers (`KernelPolicy`).
    public typealias Kernel = KernelPolicy

    public var model: Model
    public var dataDir: String
    public var batchSize: Int
    public var epochs: Int
    public var threads: Int
    public var parallelism: TrainingConfig.Parallelism

    public init(
        model: Model = .lenet300, dataDir: String, batchSize: Int = 128, epochs: Int = 1, threads: Int = 0,
        parallelism: TrainingConfig.Parallelism = .data
    ) {
        self.model = model
        self.dataDir = dataDir
        self.batchSize = batchSize
        self.epochs = epochs
        self.threads = threads
        self.parallelism = parallelism
    }

    /// The experiment config: every section's defaults, then the fields above. LeNet-5 starts
    /// from `normal` (std 1/sqrt(fan_in), near PyTorch's default uniform rule): with He's larger
    /// initial weights its linear conv stack diverges at the benchmark's lr 0.05.
    public func config() throws -> ExperimentConfig {
        var config = try ConfigLoader.decode(Data(#"{"data": {"format": "idx", "dir": "."}, "model": {"preset": "lenet-300-100"}}"#.utf8))
        config.name = "bench"
        config.seed = 1
        config.data.dir = dataDir
        config.model.preset = model.rawValue
        config.model.initializer = model == .lenet5 ? .normal : .he
        config.training.epochs = epochs
        config.training.batchSize = .samples(batchSize)
        config.training.learningRate = 0.05
        config.training.momentum = 0.9
        config.training.threads = threads
        config.training.parallelism = parallelism
        return config
    }
}

import Foundation
import Testing

@testable import Experiments

/// `prunelab bench`'s config, built as a value, equals the same experiment written as a config
/// file and decoded (every key, defaults included, in the canonical form run folders store).
@Suite struct BenchmarkSetupTests {
    @Test(arguments: BenchmarkSetup.Model.allCases, TrainingConfig.Parallelism.allCases)
    func configEqualsTheWrittenConfig(model: BenchmarkSetup.Model, parallelism: TrainingConfig.Parallelism) throws {
        let setup = BenchmarkSetup(
            model: model, dataDir: "data/my \"mnist\"", batchSize: 64, epochs: 3, threads: 2, parallelism: parallelism)
        let written = """
            {"name": "bench", "seed": 1, "data": {"format": "idx", "dir": "data/my \\"mnist\\""},
             "model": {"preset": "\(model.rawValue)", "init": "\(model == .lenet5 ? "normal" : "he")"},
             "training": {"epochs": 3, "batch_size": 64, "learning_rate": 0.05, "momentum": 0.9,
                          "threads": 2, "parallelism": "\(parallelism.rawValue)"}}
            """
        let expected = try ConfigLoader.canonicalJSON(ConfigLoader.decode(Data(written.utf8)))
        #expect(
            String(decoding: try ConfigLoader.canonicalJSON(setup.config()), as: UTF8.self) == String(decoding: expected, as: UTF8.self))
    }
}

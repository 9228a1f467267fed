import Testing
import Foundation
import HDF5Support
import Datasets
import Schema
@testable import Experiments

/// Inputs that used to crash a run: each is now one error naming the key or the file, found
/// with the model and the data before the run folder is created.
@Suite struct BadInputTests {
    static func fixture() throws -> String {
        try #require(Bundle.module.url(forResource: "carvnocar_small", withExtension: "h5", subdirectory: "Fixtures")).path
    }

    static func config(data: String, _ overrides: [String]) throws -> ExperimentConfig {
        let json =
            #"{"name": "bad", "data": {"format": "hdf5", "train_file": "\#(data)"}, "#
            + #""model": {"layers": [{"type": "dense", "units": 4, "activation": "relu"}, {"type": "dense", "units": 2, "activation": "softmax"}]}, "#
            + #""training": {"epochs": 1, "batch_size": 2}}"#
        return try ConfigLoader.decode(Data(json.utf8), overrides: overrides)
    }

    /// Runs `config` into a fresh folder; returns the thrown error's text and whether the run
    /// folder was created.
    static func failedRun(_ config: ExperimentConfig) throws -> (message: String?, folderCreated: Bool) {
        try withScratchFolder("bad-run") { dir in
            let out = dir.appendingPathComponent("run").path
            let message = thrownMessage { _ = try Runner.run(config, options: RunOptions(outDir: out, progress: false)) }
            return (message, FileManager.default.fileExists(atPath: out))
        }
    }

    @Test(arguments: [
        (
            "training.epochs=9223372036854775807",
            "key 'training.epochs': 9223372036854775807 epochs of 3 steps is 2.77e+19 optimizer steps, more than the 2^40 a run can count"
        ),
        (
            "training.eval_every=1000000000000000000ep",
            "key 'training.eval_every': 1000000000000000000ep (3 steps per epoch) is 3e+18 optimizer steps, more than the 2^40 a run can count"
        ),
        (
            "training.log_every=9223372036854775807it",
            "key 'training.log_every': 9223372036854775807it is 9.22e+18 optimizer steps, more than the 2^40 a run can count"
        ),
        (
            "training.steps=9223372036854775807",
            "key 'training.steps': 9223372036854775807 is 9.22e+18 optimizer steps, more than the 2^40 a run can count"
        ),
        (
            "training.schedule.warmup=4611686018427387904ep",
            "key 'training.schedule.warmup': 4611686018427387904ep (3 steps per epoch) is 1.38e+19 optimizer steps, more than the 2^40 a run can count"
        ),
    ])
    func overflowingLengthsAreErrors(override: String, expected: String) throws {
        let (message, folderCreated) = try Self.failedRun(try Self.config(data: try Self.fixture(), [override]))
        #expect(message == expected)
        #expect(!folderCreated)
    }

    @Test func lengthsAtTheLimitPlanExactly() throws {
        let c = try Self.config(data: try Self.fixture(), ["training.epochs=366503875925"])  // 3 steps each: just under 2^40
        #expect(try StepBudget.plannedSteps(c, perEpoch: 3) == 1_099_511_627_775)
        #expect(throws: ConfigError.self) { try StepBudget.plannedSteps(c, perEpoch: 4) }
    }

    /// An HDF5 set with 0 training samples used to divide by zero in the Batcher.
    @Test func emptyTrainingSetNamesTheFileAndDataset() throws {
        try withScratchFolder("empty-train") { dir in
            let path = dir.appendingPathComponent("empty.h5").path
            let file = try HDF5File(creating: path)
            try file.writeDataset("X_train", shape: [0, 2, 2, 1], values: [UInt8]())
            try file.writeDataset("y_train", shape: [0], values: [Int64]())
            try file.writeDataset("X_test", shape: [1, 2, 2, 1], values: [UInt8](arrayLiteral: 0, 1, 2, 3))
            try file.writeDataset("y_test", shape: [1], values: [Int64(1)])
            try file.close()
            let expected = "\(path): dataset 'X_train' holds 0 samples; training needs at least one"
            #expect(thrownMessage { _ = try HDF5ImageSet.load(trainFile: path) } == expected)
            // the data is checked before the run folder is made: nothing is written
            let out = dir.appendingPathComponent("run").path
            let config = try Self.config(data: path, [])
            #expect(thrownMessage { _ = try Runner.run(config, options: RunOptions(outDir: out, progress: false)) } == expected)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

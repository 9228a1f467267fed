import Testing
import Foundation
import TensorCore
import HDF5Support
import Schema
import Training
@testable import Experiments

/// Runs that would end `completed` with meaningless numbers fail or say so instead.
@Suite struct NoSilentResultsTests {
    static func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString)").path
    }

    @Test func anEmptyTestSetIsAnError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("empty-test-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try HDF5File(creating: path)
        try f.writeDataset("X_train", shape: [4, 2, 2, 3], values: [UInt8](repeating: 7, count: 48))
        try f.writeDataset("y_train", shape: [4], values: [Int64](arrayLiteral: 0, 1, 0, 1))
        try f.writeDataset("X_test", shape: [0, 2, 2, 3], values: [UInt8]())
        try f.writeDataset("y_test", shape: [0], values: [Int64]())
        try f.close()
        let config = try ConfigLoader.decode(
            Data(
                #"""
                {"data": {"format": "hdf5", "train_file": "\#(path)"},
                 "model": {"layers": [{"units": 1, "activation": "sigmoid"}]}, "training": {"steps": 2}}
                """#.utf8))
        let dir = Self.tempDir()
        let error = #expect(throws: ConfigError.self) { try Runner.run(config, options: RunOptions(outDir: dir, progress: false)) }
        #expect(error?.description.contains("test set is empty") == true)
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// A sigmoid net at learning rate 1e4 keeps a finite but exploding loss; the divergence
    /// rule (an epoch's mean loss above divergence_factor · ln 2) fails it.
    @Test func anExplodingLossIsDivergence() throws {
        let root = TestSupport.root.path
        let config = try ConfigLoader.load(
            path: "\(root)/configs/catvnoncat-4layer.json",
            overrides: [
                "data.train_file=\"\(root)/data/catvnoncat/train_catvnoncat.h5\"",
                "data.test_file=\"\(root)/data/catvnoncat/test_catvnoncat.h5\"",
                "model.init_file=null", "training.learning_rate=10000", "training.steps=200",
            ])
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: TrainingError.self) { try Runner.run(config, options: RunOptions(outDir: dir, progress: false)) }
        #expect(error.map { "\($0)".contains("diverged") } == true)
        let info = try RunInfo.read(from: URL(fileURLWithPath: "\(dir)/run.json"))
        #expect(info.status == .failed)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/summary.csv"))
    }

    /// A schedule whose checks cannot reach the target warns, and summary.csv has the target
    /// beside what was reached.
    @Test func aDynamicRunShortOfItsTargetSaysSo() throws {
        let config = try ConfigLoader.decode(
            Data(
                EndToEndTests.mnistConfig(
                    #"""
                    , "pruning": {"method": "dynamic", "target_sparsity": 0.9, "exclude_output": true,
                      "dynamic": {"criterion": "magnitude", "cubic": {"start": "10it", "end": "20it", "every": "10it", "max_per_check": 0.01}}}
                    """#, epochs: 1
                ).utf8))
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        #expect(outcome.warnings.count == 1 && outcome.warnings[0].contains("requested 0.9000"))
        let rows = try CSVReader.read(URL(fileURLWithPath: "\(dir)/summary.csv"))
        let target = try #require(rows[0].firstIndex(of: "target_sparsity"))
        #expect(rows[1][target] == "0.9")
    }

    @Test func anOverrideOfASectionTheRunIgnoresWarns() throws {
        let json = EndToEndTests.mnistConfig()
        let overrides = ["pruning.dynamic.criterion=movement", "training.epochs=1", "pruning.han.rounds=2"]
        let config = try ConfigLoader.decode(Data(json.utf8), overrides: overrides)
        let warnings = ConfigLoader.unusedOverrides(config, overrides: overrides)
        #expect(warnings.count == 2 && warnings.allSatisfy { $0.contains("pruning.method is dense") })
        let dynamic = try ConfigLoader.decode(Data(json.utf8), overrides: ["pruning.method=dynamic", "pruning.dynamic.stalled.window=3"])
        #expect(
            ConfigLoader.unusedOverrides(dynamic, overrides: ["pruning.dynamic.stalled.window=3"]).first?.contains("criterion is linear")
                == true)
    }
}

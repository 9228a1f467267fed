import Testing
import Foundation
import NN
@testable import Experiments

/// `training.kernel` end to end: decoding, and whole dynamic-pruning runs of a small conv net
/// whose kernels.csv records the switch to the sparse kernels, with the same accuracy as SGEMM.
@Suite struct KernelRunTests {
    @Test func kernelKeyDecodesAndDefaultsToAuto() throws {
        let base = #"{"name": "t", "data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}"#
        #expect(try ConfigLoader.decode(Data((base + "}").utf8)).training.kernel == .auto)
        #expect(try ConfigLoader.decode(Data((base + #", "training": {"kernel": "sparse"}}"#).utf8)).training.kernel == .sparse)
        #expect(try ConfigLoader.decode(Data((base + "}").utf8), overrides: [#"training.kernel="dense""#]).training.kernel == .dense)
        #expect(throws: (any Error).self) { try ConfigLoader.decode(Data((base + #", "training": {"kernel": "fast"}}"#).utf8)) }
    }

    func run(kernel: String) throws -> (dir: String, summary: [String: String], kernels: [[String: String]]) {
        let json = ConvRunTests.config(
            """
            {"method": "dynamic", "target_sparsity": 0.9,
             "dynamic": {"criterion": "magnitude", "cubic": {"start": "5it", "end": "30it", "every": "5it", "max_per_check": 0.5}}}
            """
        ).replacingOccurrences(of: #""momentum": 0.9}"#, with: #""momentum": 0.9, "kernel": "\#(kernel)"}"#)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-kernel-\(UUID().uuidString)").path
        let config = try ConfigLoader.decode(Data(json.utf8))
        #expect(config.training.kernel.rawValue == kernel)
        _ = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        let runs = ConvRunTests()
        return (dir, try #require(try runs.csv("\(dir)/summary.csv").first), try runs.csv("\(dir)/kernels.csv"))
    }

    @Test func sparseRunRecordsItsKernelsAndMatchesTheDenseKernel() throws {
        let dense = try run(kernel: "dense")
        let sparse = try run(kernel: "sparse")
        defer { for d in [dense.dir, sparse.dir] { try? FileManager.default.removeItem(atPath: d) } }
        // every layer starts on SGEMM (no mask yet) ...
        for layer in ["conv1", "conv2", "fc1", "fc2"] {
            #expect(sparse.kernels.first { $0["layer"] == layer }?["kernel"] == "dense")
            #expect(dense.kernels.filter { $0["layer"] == layer }.allSatisfy { $0["kernel"] == "dense" })
        }
        // ... and each one switches to the sparse kernels once masked, recorded with its step
        for layer in ["conv1", "conv2", "fc1", "fc2"] {
            let switched = try #require(sparse.kernels.first { $0["layer"] == layer && $0["kernel"] == "sparse" })
            #expect((Int(switched["step"] ?? "") ?? 0) > 5)
            #expect(switched["policy"] == "sparse")
        }
        // same training up to float summation order: same sparsity, accuracy within a few samples
        #expect(dense.summary["sparsity"] == sparse.summary["sparsity"])
        let a = try #require(Double(dense.summary["test_accuracy"] ?? "")), b = try #require(Double(sparse.summary["test_accuracy"] ?? ""))
        #expect(abs(a - b) <= 0.02)
    }
}

import Testing
import Foundation
import TensorCore
import NN
import Training
import Pruning
import HDF5Support
import Schema
@testable import Experiments

/// Removing units during training (`pruning.structured.compact_during_training`): the smaller
/// network trains exactly as the masked one would, resumes bit for bit across the compaction,
/// and counts its own FLOPs.
@Suite struct CompactionDuringTrainingTests {
    /// Two sessions of one config (same initial weights, same batches): both train `before`
    /// steps, the same units are masked in both, the second also removes them; every 5 of the
    /// `after` steps that follow, the logits on 200 test images agree to 1e-5.
    static func expectCompactedTrainsAsMasked(_ json: String, prune: [String: Double], before: Int = 10, after: Int = 15) throws {
        let config = try ConfigLoader.decode(Data(json.utf8))
        let data = try config.data.load()
        let masked = try TrainingSession(config: config, data: data)
        let compacted = try TrainingSession(config: config, data: data)
        try masked.trainer.train(steps: before)
        try compacted.trainer.train(steps: before)
        var keep: [String: [Int]] = [:]
        var removed = 0
        for session in [masked, compacted] {
            for layer in StructuredPruning.unitLayers(session.model) {
                guard let ratio = prune[layer.name] else { continue }
                let alive = [Bool](repeating: true, count: layer.units)
                let scores = L1UnitCriterion.scores(layer, alive: alive)
                let r = StructuredPruning.removeCount(units: layer.units, ratio: ratio)
                let kept = StructuredPruning.keep(scores: scores, alive: alive, remove: r)
                StructuredPruning.applyMask(layer, kept: kept)
                keep[layer.name] = kept.indices.filter { kept[$0] }
                removed += r
            }
            session.optimizer.applyMasksToState()
        }
        #expect(removed > 0)
        let weightsBefore = compacted.model.weightCounts.total
        let maps = try Compaction.removeUnits(from: compacted.model, keeping: keep)
        compacted.trainer.modelLayersDidChange(keeping: maps)
        #expect(compacted.model.weightCounts.total < weightsBefore)
        let x = Tensor(shape: [200] + data.test.sampleShape, scalars: Array(data.test.images.scalars[0..<(200 * data.test.sampleSize)]))
        for _ in 0..<(after / 5) {
            try masked.trainer.train(steps: 5)
            try compacted.trainer.train(steps: 5)
            let a = masked.model.forward(x, training: false), b = compacted.model.forward(x, training: false)
            #expect(a.shape == b.shape)
            var diff: Float = 0
            for i in 0..<a.count { diff = max(diff, abs(a.scalars[i] - b.scalars[i])) }
            #expect(diff <= 1e-5, "step \(masked.trainer.step): max |masked - compacted| logit difference \(diff)")
        }
        // the masked model really moved after the compaction (the comparison is not of a frozen net)
        #expect(masked.trainer.step == before + after)
    }

    /// Conv-BN-ReLU twice, then dense-BN-ReLU and dropout, on two data-parallel workers; filters
    /// of both conv layers go (the next conv's input channels, the dense layer's flattened
    /// columns and the batch norms' channels with them).
    @Test func convNetWithBatchNormTrainsAsMasked() throws {
        var json = ConvRunTests.config(#"{"method": "dense"}"#, layers: ConvRunTests.bnLayers)
        json = json.replacingOccurrences(of: #""momentum": 0.9}"#, with: #""momentum": 0.9, "threads": 2}"#)
        try Self.expectCompactedTrainsAsMasked(json, prune: ["conv1": 0.5, "conv2": 0.5])
    }

    /// LeNet-300-100's hidden layers lose neurons (the next layer's columns go with them).
    @Test func mlpTrainsAsMasked() throws {
        try Self.expectCompactedTrainsAsMasked(EndToEndTests.mnistConfig(), prune: ["fc1": 0.6, "fc2": 0.5])
    }

    /// Adam's moments are gathered like SGD's momentum.
    @Test func mlpWithAdamTrainsAsMasked() throws {
        let json = EndToEndTests.mnistConfig().replacingOccurrences(
            of: #""learning_rate": 0.05, "momentum": 0.9"#, with: #""learning_rate": 0.001, "optimizer": "adam""#)
        #expect(json.contains("adam"))
        try Self.expectCompactedTrainsAsMasked(json, prune: ["fc1": 0.6, "fc2": 0.5])
    }

    static func structuredConfig(_ compact: String, layers: String = ConvRunTests.bnLayers) throws -> ExperimentConfig {
        let json = ConvRunTests.config(
            """
            {"method": "structured", "structured": {"criterion": "fpgm", "ratio": 0.5, "layers": ["conv1", "conv2"], "finetune": "1ep",
             "compact_during_training": \(compact)}}
            """, layers: layers)
        return try ConfigLoader.decode(Data(json.utf8))
    }

    /// A hard selection at the end of epoch 1 (step 20), stops before and after it.
    @Test func resumeAcrossTheCompactionIsExact() throws {
        try RunFolderTests.expectResumeIsExact(config: try Self.structuredConfig(#"{"at": "1ep"}"#), stops: [15, 20, 33])
    }

    /// `when_stable`: compacted once two selections in a row chose the same filters.
    @Test func resumeAcrossAStableCompactionIsExact() throws {
        let json = ConvRunTests.config(
            """
            {"method": "structured", "structured": {"criterion": "l1", "ratio": 0.5, "layers": ["conv1", "conv2"], "every": "5it",
             "compact_during_training": {"when_stable": 1}}}
            """)
        let config = try ConfigLoader.decode(Data(json.utf8))
        try RunFolderTests.expectResumeIsExact(config: config, stops: [12, 31])
        // the selections did settle and the filters went
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-cdt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        let layers = try CSVReader.read(dir.appendingPathComponent("layers.csv"))
        #expect(layers.first { $0.first == "conv1" }?[1] == "3x1x5x5")
        let events = try CSVReader.read(dir.appendingPathComponent("events.csv"))
        #expect(events.count - 1 < 2 * 8, "selections stop at the compaction: \(events.count - 1) rows")
    }

    /// train_flops: 20 steps of the full network, then 20 steps of the compacted one; each is a
    /// brute-force per-sample count of its layers (independent of `trainingFLOPs`): forward
    /// 2·weights·positions + bias adds, backward the weight gradient and the input gradient
    /// (not for the first layer), plus the element-wise layers' passes, times the samples.
    @Test func trainFLOPsCountTheSmallerNetwork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-cdt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try Self.structuredConfig(#"{"at": "1ep"}"#, layers: ConvRunTests.layers)
        _ = try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        let rows = try CSVReader.read(dir.appendingPathComponent("summary.csv"))
        let s = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        // conv 1->6 5x5 on 28x28 (24x24 out), relu, pool 2 (12x12), conv 6->8 5x5 (8x8), pool (4x4),
        // dense 128->32 relu, dense 32->10; compacted: 3 and 4 filters, dense 64->32.
        let full = Self.perSample(c1: 6, c2: 8)
        let small = Self.perSample(c1: 3, c2: 4)
        // 1000 samples / 50 = 20 steps per epoch; 2 epochs of training and 1 of fine-tuning
        #expect(s["train_flops"] == String(full * 1000 + small * 2000))
        #expect(s["dense_train_flops"] == String(full * 3000))
        // sparsity is a fraction of the configured network's weights (6 and 8 filters, dense 128->32 and 32->10),
        // counting the units that left it
        let configured = 6 * 25 + 8 * 6 * 25 + 32 * 128 + 10 * 32, compacted = 3 * 25 + 4 * 3 * 25 + 32 * 64 + 10 * 32
        #expect(s["total_weights"] == String(configured))
        let nonzero = try #require(Int(s["nonzero_weights"] ?? ""))
        #expect(nonzero <= compacted && nonzero > compacted / 2)
        #expect(Double(s["sparsity"] ?? "") == 1 - Double(nonzero) / Double(configured))
        // forward per sample: the configured network's, and the compacted one's
        let forward = { (c1: Int, c2: Int) -> Int in
            let w1 = c1 * 25, w2 = c2 * c1 * 25, w3 = 32 * c2 * 16
            return 2 * w1 * 576 + c1 * 576 + c1 * 576 + c1 * 144 * 3 + 2 * w2 * 64 + c2 * 64 + c2 * 16 * 3 + 2 * w3 + 32 + 32 + 2 * 320 + 10
        }
        #expect(s["dense_flops"] == String(forward(6, 8)) && s["compact_flops"] == String(forward(3, 4)))
        let layers = try CSVReader.read(dir.appendingPathComponent("layers.csv"))
        let conv2 = try #require(layers.first { $0.first == "conv2" })
        // model.h5 holds the compacted network and says so in its layer list
        let file = try HDF5File(path: dir.appendingPathComponent("model.h5").path)
        let specs = try JSONDecoder().decode([LayerSpec].self, from: Data(try file.attributeString("layers").utf8))
        #expect(specs.compactMap(\.units) == [3, 4, 32, 10])
        #expect(try HDF5Arrays.all(dir.appendingPathComponent("model.h5").path)["conv2/weight"]?.count == 300)
        // export, predict and quantize read the run's model.h5 through its layer list
        let (exportConfig, modelFile) = try ModelExport.inputs(of: dir, source: .dense)
        let reloaded = try ModelExport.load(config: exportConfig, modelFile: modelFile, source: .dense)
        #expect(reloaded.weightedLayers.map { $0.weight.value.shape[0] } == [3, 4, 32, 10])
        #expect(exportConfig.pruning == config.pruning)
        #expect(conv2[1] == "4x3x5x5" && conv2[2] == "300", "layers.csv conv2 row: \(conv2)")  // 4 filters of conv1's 3 channels
    }

    /// Per-sample training FLOPs of the small conv net with `c1` and `c2` filters, layer by
    /// layer: conv 2·w·positions + a bias add per output (backward: the weight gradient, the
    /// bias and, past the first layer, the input gradient 2·w·positions), ReLU 1 per element each
    /// way, 2x2 max pooling 3 comparisons per output forward and 1 backward, dense 2·w + outputs
    /// (backward 2·w + outputs + 2·w), and the softmax cross-entropy's 6 per class.
    static func perSample(c1: Int, c2: Int) -> Int {
        let w1 = c1 * 25, p1 = 24 * 24, w2 = c2 * c1 * 25, p2 = 8 * 8, w3 = 32 * c2 * 16, w4 = 10 * 32
        let conv1 = (2 * w1 * p1 + c1 * p1) * 2
        let relu1 = c1 * p1 * 2
        let pool1 = c1 * 144 * 3 + c1 * 144
        let conv2 = (2 * w2 * p2 + c2 * p2) * 2 + 2 * w2 * p2
        let pool2 = c2 * 16 * 3 + c2 * 16
        let fc1 = (2 * w3 + 32) * 2 + 2 * w3, relu3 = 32 * 2
        let fc2 = (2 * w4 + 10) * 2 + 2 * w4
        return conv1 + relu1 + pool1 + conv2 + pool2 + fc1 + relu3 + fc2 + 6 * 10
    }

    /// Bad settings are one-line errors naming the key.
    @Test func badSettingsNameTheKey() throws {
        let cases: [(String, String, String)] = [
            (#"{"at": "1ep", "when_stable": 2}"#, "soft", "pruning.structured.compact_during_training"),
            (#"{}"#, "soft", "pruning.structured.compact_during_training"),
            (#"{"when_stable": 0}"#, "soft", "pruning.structured.compact_during_training.when_stable"),
            (#"{"when_stable": 2}"#, "hard", "pruning.structured.compact_during_training.when_stable"),
            (#"{"at": "1ep", "every": "2ep"}"#, "soft", "pruning.structured.compact_during_training.every"),
        ]
        for (compact, mode, path) in cases {
            let json = ConvRunTests.config(
                #"{"method": "structured", "structured": {"mode": "\#(mode)", "compact_during_training": \#(compact)}}"#)
            let error = #expect(throws: ConfigError.self) { try ConfigLoader.decode(Data(json.utf8)) }
            #expect(error?.path == path, "\(compact): \(String(describing: error))")
        }
        // per-weight recording holds the full layers: refused when the run starts
        let json = ConvRunTests.config(
            #"{"method": "structured", "structured": {"compact_during_training": {"at": "1ep"}}}"#,
            recording: #", "recording": {"enabled": true, "every": "7it", "samples_per_layer": 20}"#)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-cdt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: ConfigError.self) {
            try Runner.run(try ConfigLoader.decode(Data(json.utf8)), options: RunOptions(outDir: dir.path, progress: false))
        }
        #expect(error?.path == "pruning.structured.compact_during_training")
        // a compaction after the end of training would never happen
        let late = ConvRunTests.config(#"{"method": "structured", "structured": {"compact_during_training": {"at": "2ep"}}}"#)
        let lateDir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-cdt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: lateDir) }
        let lateError = #expect(throws: ConfigError.self) {
            try Runner.run(try ConfigLoader.decode(Data(late.utf8)), options: RunOptions(outDir: lateDir.path, progress: false))
        }
        #expect(lateError?.path == "pruning.structured.compact_during_training.at")
    }
}

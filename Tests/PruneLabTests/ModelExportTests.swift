import Testing
import Foundation
import TensorCore
import NN
import ONNX
import HDF5Support
@testable import Experiments

/// `prunelab export --format onnx` against onnxruntime: the dense, Han-masked and FPGM-compacted
/// LeNet-5 of short runs, and a batch-norm net with its batch norms kept or folded, give
/// PruneLab's logits and its test accuracy; `onnx.checker` accepts every file; the compacted file
/// is the smallest. Bad input is one error line.
@Suite struct ModelExportTests {
    static let onnx = ExternalRequirement.python("onnx, onnxruntime, torch, h5py, numpy")
    static let testCount = 200

    static func config(model: String, pruning: String, training: String) -> String {
        """
        {"name": "export", "seed": 2,
         "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 256, "test_limit": \(testCount)},
         "model": \(model),
         "training": {\(training), "batch_size": 32, "learning_rate": 0.01, "momentum": 0.9, "threads": 1},
         "pruning": \(pruning), "tensorboard": {"enabled": false}}
        """
    }

    static let lenet5 = #"{"preset": "lenet-5"}"#
    static let dense = config(model: lenet5, pruning: #"{"method": "dense"}"#, training: #""steps": 8"#)
    static let han = config(
        model: lenet5,
        pruning: #"""
            {"method": "han", "layer_sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.925, "fc2": 0.81},
             "han": {"rounds": 1, "retrain": "4it"}}
            """#, training: #""steps": 8"#)
    static let fpgm = config(
        model: lenet5,
        pruning: #"""
            {"method": "structured", "structured": {"criterion": "fpgm", "ratio": 0.5, "every": "1ep", "finetune": "4it"}}
            """#, training: #""epochs": 2"#)
    /// Conv-BN-ReLU, dense-BN-ReLU and a batch norm after a pool (which cannot fold).
    static let batchNorm = config(
        model: #"""
            {"layers": [{"type": "conv", "filters": 6, "kernel": 5}, {"type": "batchnorm", "activation": "relu"},
             {"type": "pool", "kernel": 2}, {"type": "batchnorm"}, {"type": "conv", "filters": 8, "kernel": 5, "stride": 2},
             {"type": "dense", "units": 24}, {"type": "batchnorm", "activation": "relu"}, {"type": "dropout", "rate": 0.2},
             {"type": "dense", "units": 10, "activation": "softmax"}]}
            """#, pruning: #"{"method": "dense"}"#, training: #""steps": 8"#)

    /// Runs `json` into `dir/name`; returns the folder and its summary row.
    static func run(_ json: String, in dir: URL, _ name: String) throws -> (URL, [String: String]) {
        let folder = dir.appendingPathComponent(name)
        _ = try Runner.run(try ConfigLoader.decode(Data(json.utf8)), options: RunOptions(outDir: folder.path, progress: false))
        let rows = try CSVReader.read(folder.appendingPathComponent("summary.csv"))
        return (folder, Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1])))
    }

    /// PruneLab's logits of the run's model file on `x`: the model rebuilt as `predict` and
    /// `model.init_file` rebuild it (the compacted one from its stored layer list).
    static func prunelabLogits(_ run: URL, file: String, _ x: Tensor) throws -> Tensor {
        var config = try ConfigLoader.load(path: run.appendingPathComponent("config.json").path)
        let path = run.appendingPathComponent(file).path
        if file == "model-compact.h5" {
            let layers = try HDF5File(path: path).attributeString("layers")
            config.model.layers = try JSONDecoder().decode([LayerSpec].self, from: Data(layers.utf8))
            config.model.preset = nil
        }
        config.model.initFile = path
        return try TrainingSession(config: config, data: try config.data.load()).model.forward(x, training: false)
    }

    /// Samples whose largest logit (the first, on ties) is the label.
    static func correct(_ logits: Tensor, _ labels: [Int]) -> Int {
        let k = logits.shape[1]
        return labels.indices.filter { i in
            let row = Array(logits.scalars[(i * k)..<((i + 1) * k)])
            return row.firstIndex(of: row.max()!) == labels[i]
        }.count
    }

    static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test(onnx.trait)
    func denseMaskedAndCompactedLeNet5GivePruneLabsLogitsAndAccuracy() throws {
        try withScratchFolder("onnx") { dir in
            let (denseRun, denseSummary) = try Self.run(Self.dense, in: dir, "dense")
            let (hanRun, hanSummary) = try Self.run(Self.han, in: dir, "han")
            let (fpgmRun, fpgmSummary) = try Self.run(Self.fpgm, in: dir, "fpgm")
            let cases: [(name: String, run: URL, source: ModelExport.Source, accuracy: String?)] = [
                ("dense", denseRun, .dense, denseSummary["test_accuracy"]),
                ("han", hanRun, .dense, hanSummary["test_accuracy"]),
                ("han_sparse", hanRun, .sparse, hanSummary["test_accuracy"]),
                ("fpgm_masked", fpgmRun, .dense, fpgmSummary["test_accuracy"]),
                ("fpgm_compact", fpgmRun, .compact, fpgmSummary["compact_test_accuracy"]),
            ]
            var files: [String: URL] = [:]
            for c in cases {
                files[c.name] = try ModelExport.run(
                    .init(runDir: c.run.path, source: c.source, out: dir.appendingPathComponent("\(c.name).onnx").path)
                ).file
            }
            let test = try ConfigLoader.load(path: denseRun.appendingPathComponent("config.json").path).data.load().test
            #expect(test.count == Self.testCount)
            let batch = dir.appendingPathComponent("batch.h5"), out = dir.appendingPathComponent("onnx-logits.h5")
            try TorchRoundTripTests.writeBatch(test.images, to: batch)
            _ = try TestSupport.python(
                [TorchRoundTripTests.script, "onnx", batch.path, out.path] + cases.map { "\($0.name)=\(files[$0.name]!.path)" })
            for c in cases {
                let ours = try Self.prunelabLogits(c.run, file: c.source.fileName, test.images)
                let ort = try TorchRoundTripTests.readTensor(out, c.name)
                #expect(TorchRoundTripTests.maxDifference(ort, ours) <= 1e-4, "\(c.name)")
                print("\(c.name): onnxruntime logits within \(TorchRoundTripTests.maxDifference(ort, ours)) of PruneLab's")
                let accuracy = try #require(Double(c.accuracy ?? ""), "\(c.name): no accuracy in summary.csv")
                #expect(Self.correct(ort, test.labels) == Int((accuracy * Double(Self.testCount)).rounded()), "\(c.name)")
                // prunelab_torch reads the masked (CSR) and compacted layouts too
                if c.source != .dense {
                    let torchOut = dir.appendingPathComponent("torch-\(c.name).h5")
                    _ = try TestSupport.python(
                        [
                            TorchRoundTripTests.script, "logits", c.run.appendingPathComponent(c.source.fileName).path, batch.path,
                            torchOut.path,
                        ])
                    #expect(
                        TorchRoundTripTests.maxDifference(try TorchRoundTripTests.readTensor(torchOut, "logits"), ours) <= 1e-5, "\(c.name)"
                    )
                }
            }
            // masked weights are zeros in a plain graph; the compacted graph is smaller
            let compact = Self.fileSize(files["fpgm_compact"]!)
            #expect(compact > 0 && compact < Self.fileSize(files["fpgm_masked"]!) && compact < Self.fileSize(files["dense"]!))
            #expect(Self.fileSize(files["han"]!) == Self.fileSize(files["dense"]!))
            let masked = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: files["han_sparse"]!))
            let fc1 = try #require(masked.graph.initializer.first { $0.name == "fc1.weight" })
            let bytes = [UInt8](fc1.rawData)
            let zeros = stride(from: 0, to: bytes.count, by: 4).filter { bytes[$0..<($0 + 4)].allSatisfy { $0 == 0 } }.count
            let mask = try HDF5File(path: hanRun.appendingPathComponent("model.h5").path).read("fc1/mask", as: UInt8.self).values
            #expect(zeros > 100_000 && zeros == mask.filter { $0 == 0 }.count, "fc1's pruned weights are the zeros")
        }
    }

    @Test(onnx.trait)
    func batchNormsKeptOrFoldedGivePruneLabsLogits() throws {
        try withScratchFolder("onnx-bn") { dir in
            let (run, _) = try Self.run(Self.batchNorm, in: dir, "bn")
            let kept = try ModelExport.run(.init(runDir: run.path))
            let folded = try ModelExport.run(
                .init(runDir: run.path, foldBatchNorm: true, out: dir.appendingPathComponent("folded.onnx").path))
            #expect(kept.file.path == run.appendingPathComponent("model.onnx").path)
            func ops(_ url: URL) throws -> [String] {
                try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url)).graph.node.map(\.opType)
            }
            #expect(try ops(kept.file).filter { $0 == "BatchNormalization" }.count == 3)
            #expect(try ops(folded.file).filter { $0 == "BatchNormalization" }.count == 1)  // the one after the pool
            #expect(try !ops(kept.file).contains("Dropout"))
            let test = try ConfigLoader.load(path: run.appendingPathComponent("config.json").path).data.load().test
            let batch = dir.appendingPathComponent("batch.h5"), out = dir.appendingPathComponent("logits.h5")
            try TorchRoundTripTests.writeBatch(test.images, to: batch)
            _ = try TestSupport.python([
                TorchRoundTripTests.script, "onnx", batch.path, out.path, "kept=\(kept.file.path)", "folded=\(folded.file.path)",
            ])
            let ours = try Self.prunelabLogits(run, file: "model.h5", test.images)
            for name in ["kept", "folded"] {
                #expect(TorchRoundTripTests.maxDifference(try TorchRoundTripTests.readTensor(out, name), ours) <= 1e-4, "\(name)")
            }
            let torchOut = dir.appendingPathComponent("torch.h5")
            _ = try TestSupport.python([
                TorchRoundTripTests.script, "logits", run.appendingPathComponent("model.h5").path, batch.path, torchOut.path,
            ])
            #expect(TorchRoundTripTests.maxDifference(try TorchRoundTripTests.readTensor(torchOut, "logits"), ours) <= 1e-5)
        }
    }

    /// Residual and concat blocks (a DenseNet block), global average pooling and batch norms
    /// inside blocks with non-trivial running statistics: onnxruntime gives PruneLab's logits.
    @Test(onnx.trait)
    func blocksAndGlobalPoolingGivePruneLabsLogits() throws {
        let json = #"""
            {"layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1, "activation": "relu"},
             {"type": "residual", "layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, {"type": "batchnorm", "activation": "relu"}]},
             {"type": "pool", "kernel": 2}, {"type": "dense_block", "growth_rate": 2, "count": 2, "bottleneck": 2},
             {"type": "global_avg_pool"}, {"type": "dense", "units": 10, "activation": "softmax"}]}
            """#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        let model = try ModelRegistry.build(config, inputShape: [1, 28, 28], classCount: 10)
        var rng = RandomSource(seed: 9)
        Initializer.he.initialize(model, rng: &rng)
        for case let bn as BatchNorm in model.leafLayers {
            bn.runningMean = FiniteDifference.randomTensor([bn.channels], &rng, scale: 0.2)
            bn.runningVar = Tensor(
                shape: [bn.channels], scalars: FiniteDifference.randomTensor([bn.channels], &rng, scale: 0.5).scalars.map { abs($0) + 0.5 })
            bn.gamma.value = Tensor(shape: [bn.channels], scalars: bn.runningVar.scalars.map { 2 - $0 })
        }
        try withScratchFolder("onnx-blocks") { dir in
            let x = try TorchRoundTripTests.testImages(40)
            let batch = dir.appendingPathComponent("batch.h5"), out = dir.appendingPathComponent("logits.h5")
            let file = dir.appendingPathComponent("blocks.onnx")
            try TorchRoundTripTests.writeBatch(x, to: batch)
            try ONNXExport.data(model, producer: "prunelab", version: "test").write(to: file)
            _ = try TestSupport.python([TorchRoundTripTests.script, "onnx", batch.path, out.path, "blocks=\(file.path)"])
            let ort = try TorchRoundTripTests.readTensor(out, "blocks")
            #expect(TorchRoundTripTests.maxDifference(ort, model.forward(x, training: false)) <= 1e-4)
        }
    }

    /// A folder that is not a run, a run without the requested model file, an unknown format
    /// and a file PruneLab did not write at the target: one error line each, nothing written.
    @Test func badInputIsOneErrorLine() throws {
        try withScratchFolder("onnx-bad") { dir in
            let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
            func expectError(_ args: [String], _ mention: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let r = try TestSupport.run(exe.path, ["export"] + args)
                let lines = r.errors.split(separator: "\n")
                #expect(r.status == 1, "\(args): \(r.errors)", sourceLocation: sourceLocation)
                #expect(lines.first?.hasPrefix("prunelab: error: ") == true, "\(r.errors)", sourceLocation: sourceLocation)
                #expect(lines.first?.contains(mention) == true, "\(r.errors)", sourceLocation: sourceLocation)
                #expect(lines.count <= 2 && !r.errors.contains("Fatal error"), "\(r.errors)", sourceLocation: sourceLocation)
            }
            try expectError([dir.path], "\(dir.path): not a PruneLab run folder (no config.json)")
            try expectError([dir.appendingPathComponent("absent").path], "no such run folder")
            let tiny = Self.config(model: #"{"preset": "lenet-300-100"}"#, pruning: #"{"method": "dense"}"#, training: #""steps": 2"#)
            let (run, _) = try Self.run(tiny, in: dir, "run")
            try expectError([run.path, "--model", "compact"], "\(run.path)/model-compact.h5: missing")
            try expectError([run.path, "--format", "tflite"], "tflite")
            let foreign = dir.appendingPathComponent("mine.onnx")
            try Data("not PruneLab's".utf8).write(to: foreign)
            try expectError([run.path, "--out", foreign.path], "\(foreign.path): exists and is not a file PruneLab wrote")
            #expect(try String(contentsOf: foreign, encoding: .utf8) == "not PruneLab's")
            let inRun = run.appendingPathComponent("model.onnx")
            try Data("not PruneLab's".utf8).write(to: inRun)
            try expectError([run.path], "\(inRun.path): exists and is not a file PruneLab wrote")
            #expect(try String(contentsOf: inRun, encoding: .utf8) == "not PruneLab's")
            // PruneLab's own file is replaced
            try FileManager.default.removeItem(at: inRun)
            for _ in 0..<2 { #expect(try TestSupport.run(exe.path, ["export", run.path]).status == 0) }
            #expect(Self.fileSize(inRun) > 1_000_000)
        }
    }
}

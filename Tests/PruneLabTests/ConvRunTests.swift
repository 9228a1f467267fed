import Testing
import Foundation
import TensorCore
import NN
import Training
import Pruning
import HDF5Support
@testable import Experiments

/// Whole runs of a small conv net on an MNIST subset: structured pruning with compaction, the
/// Han pipeline and a dynamic criterion with trajectory export, all on conv weights.
@Suite struct ConvRunTests {
    static let layers = """
        [{"type": "conv", "filters": 6, "kernel": 5, "activation": "relu"}, {"type": "pool", "kernel": 2},
         {"type": "conv", "filters": 8, "kernel": 5}, {"type": "pool", "kernel": 2},
         {"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 10, "activation": "softmax"}]
        """

    /// Conv-BN-ReLU twice, dense-BN-ReLU, dropout: the layers batch norm folding and
    /// compaction go through, trained on two data-parallel workers.
    static let bnLayers = """
        [{"type": "conv", "filters": 6, "kernel": 5}, {"type": "batchnorm", "activation": "relu"}, {"type": "pool", "kernel": 2},
         {"type": "conv", "filters": 8, "kernel": 5}, {"type": "batchnorm", "activation": "relu"}, {"type": "pool", "kernel": 2},
         {"type": "dense", "units": 32}, {"type": "batchnorm", "activation": "relu"}, {"type": "dropout", "rate": 0.2},
         {"type": "dense", "units": 10, "activation": "softmax"}]
        """

    static func config(_ pruning: String, recording: String = "", layers: String = layers) -> String {
        """
        {"name": "conv-e2e", "seed": 4,
         "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 1000, "test_limit": 300},
         "model": {"layers": \(layers)},
         "training": {"epochs": 2, "batch_size": 50, "learning_rate": 0.02, "momentum": 0.9},
         "pruning": \(pruning)\(recording)}
        """
    }

    func run(_ json: String) throws -> (dir: String, summary: [String: String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-conv-\(UUID().uuidString)").path
        let config = try ConfigLoader.decode(Data(json.utf8))
        _ = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        return (dir, try #require(try csv("\(dir)/summary.csv").first))
    }

    func csv(_ path: String) throws -> [[String: String]] {
        let rows = try CSVReader.read(URL(fileURLWithPath: path))
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
    }

    /// FPGM through batch norm: removed filters take their batch norm channels along, the
    /// batch norms fold into the compacted convs and dense layer, the outputs stay the same,
    /// and the compacted layer list with `model-compact.h5` rebuilds that model.
    @Test func fpgmRunThroughBatchNormCompactsWithTheSameOutputs() throws {
        let pruning = """
            {"method": "structured", "structured": {"criterion": "fpgm", "ratio": 0.5, "layers": ["conv1", "conv2", "fc1"], "finetune": "1ep"}}
            """
        var json = Self.config(pruning, layers: Self.bnLayers)
        json = json.replacingOccurrences(of: #""momentum": 0.9}"#, with: #""momentum": 0.9, "threads": 2}"#)
        let (dir, s) = try run(json)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try #require(Double(s["compact_max_abs_diff"] ?? "")) <= 1e-4)
        #expect(s["compact_test_accuracy"] == s["test_accuracy"])
        #expect(try #require(Double(s["test_accuracy"] ?? "")) > 0.5)
        let expected: Int = 3 * 25 + 4 * 3 * 25 + 16 * 64 + 10 * 16
        #expect(s["compact_weights"] == String(expected))
        let file = try HDF5File(path: "\(dir)/model-compact.h5")
        let specs = try JSONDecoder().decode([LayerSpec].self, from: Data(try file.attributeString("layers").utf8))
        #expect(!specs.contains { $0.kind == .batchnorm } && specs.contains { $0.kind == .dropout })
        let full = try HDF5File(path: "\(dir)/model.h5")
        #expect(try full.readFloats("bn1/running_var").shape == [6])
    }

    @Test func fpgmRunCompactsToASmallerModelWithTheSameOutputs() throws {
        let (dir, s) = try run(
            Self.config(
                """
                {"method": "structured", "structured": {"criterion": "fpgm", "ratio": 0.5, "layers": ["conv1", "conv2", "fc1"],
                 "finetune": "1ep"}}
                """))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(s["method"] == "structured" && s["criterion"] == "fpgm" && s["label"] == "fpgm")
        let diff = try #require(Double(s["compact_max_abs_diff"] ?? ""))
        #expect(diff <= 1e-4)
        #expect(s["compact_test_accuracy"] == s["test_accuracy"])
        #expect(try #require(Double(s["test_accuracy"] ?? "")) > 0.5)
        // conv1 3 of 6 filters, conv2 4 of 8 (and fc1's inputs from them), fc1 16 of 32 neurons
        let expected = 3 * 25 + 4 * 3 * 25 + 16 * 64 + 10 * 16
        #expect(s["compact_weights"] == String(expected))
        #expect(try #require(Int(s["compact_bytes"] ?? "")) < (try #require(Int(s["dense_bytes"] ?? ""))) / 2)
        for k in ["infer_ms_b1", "infer_ms_b128", "compact_infer_ms_b1", "compact_infer_ms_b128"] {
            #expect((Double(s[k] ?? "") ?? 0) > 0, "\(k) measured")
        }
        // per pruned layer: a soft selection at the end of epoch 1 (not after the last epoch)
        // and the final, permanent one
        let events = try csv("\(dir)/events.csv")
        #expect(events.count == 2 * 3)
        #expect(events.map { $0["step"]! } == ["20", "20", "20", "40", "40", "40"])
        #expect(events.allSatisfy { Int($0["removed"]!)! == Int($0["units"]!)! / 2 })
        // the compacted file rebuilds: its `layers` attribute is a model config, its weights load
        let file = try HDF5File(path: "\(dir)/model-compact.h5")
        let layersJSON = try file.attributeString("layers")
        let model = try JSONDecoder().decode(ModelConfig.self, from: Data("{\"layers\": \(layersJSON)}".utf8))
        let specs = try #require(model.layers)
        #expect(specs.filter { $0.kind == .conv }.compactMap(\.units) == [3, 4])
        #expect(specs.filter { $0.kind == .dense }.compactMap(\.units) == [16, 10])
        let small = try ModelRegistry.build(model, inputShape: [1, 28, 28], classCount: 10)
        try ModelFiles.load(path: "\(dir)/model-compact.h5", into: small)
        let data = try ConfigLoader.decode(Data(Self.config("{}").utf8)).data.load()
        let eval = Evaluation.run(small, images: data.test.images, labels: data.test.labels)
        #expect(String(eval.accuracy) == s["compact_test_accuracy"])
    }

    @Test func hanPipelinePrunesConvWeightsExactly() throws {
        let (dir, s) = try run(
            Self.config(
                """
                {"method": "han", "layer_sparsity": {"conv1": 0.5, "conv2": 0.8, "fc1": 0.9, "fc2": 0.5},
                 "han": {"rule": "sparsity", "rounds": 2, "retrain": "1ep"}}
                """))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layers = try csv("\(dir)/layers.csv")
        #expect(layers.map { $0["layer"]! } == ["conv1", "conv2", "fc1", "fc2"])
        #expect(layers.map { $0["weights"]! } == ["150", "1200", "4096", "320"])
        #expect(layers.map { $0["nonzero"]! } == ["75", "240", "410", "160"])
        // forward FLOPs: 2 per weight per output position (24x24 for conv1, 8x8 for conv2) plus a bias add
        #expect(layers[0]["dense_flops"] == String(2 * 150 * 576 + 6 * 576))
        #expect(layers[0]["sparse_flops"] == String(2 * 75 * 576 + 6 * 576))
        #expect(layers[1]["sparse_flops"] == String(2 * 240 * 64 + 8 * 64))
        #expect(s["method"] == "han")
    }

    @Test func dynamicCriterionAndTrajectoriesWorkOnConvWeights() throws {
        let (dir, s) = try run(
            Self.config(
                """
                {"method": "dynamic", "target_sparsity": 0.6, "exclude_output": true,
                 "dynamic": {"criterion": "linear", "cubic": {"start": "5it", "end": "30it", "every": "5it", "max_per_check": 0.5},
                             "linear": {"stats_every": "1it", "window": 5, "horizon": "10it"}}}
                """,
                recording: """
                    , "recording": {"enabled": true, "every": "10it", "samples_per_layer": 10}
                    """))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layers = try csv("\(dir)/layers.csv")
        #expect(layers[0]["nonzero"] == "60")  // 150 * 0.4
        #expect(layers[1]["nonzero"] == "480")  // 1200 * 0.4
        #expect(layers[3]["nonzero"] == "320")  // the output layer is excluded
        let traj = try csv("\(dir)/trajectories.csv")
        let conv1 = traj.filter { $0["layer"] == "conv1" }
        #expect(!conv1.isEmpty)
        // row = filter, col = flat index within the filter's inC*k*k weights
        #expect(conv1.allSatisfy { Int($0["row"]!)! < 6 && Int($0["col"]!)! < 25 })
        #expect(Double(s["train_flops"]!)! < Double(s["dense_train_flops"]!)!)
    }
}

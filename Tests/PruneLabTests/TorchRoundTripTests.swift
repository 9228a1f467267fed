import Testing
import Foundation
import TensorCore
import NN
import HDF5Support
@testable import Experiments

/// python/prunelab_torch.py against PruneLab: a torch LeNet-5 exported as a layer list and an
/// initial-weights file gives PruneLab's preset layers and, before training, PruneLab's logits;
/// PruneLab trains it from those weights, and the run's model.h5 loaded back into torch gives
/// PruneLab's logits again. torch computes every reference number.
@Suite struct TorchRoundTripTests {
    static let torch = ExternalRequirement.python("torch, h5py, numpy")
    static let script = TestSupport.root.appendingPathComponent("python/test_prunelab_torch.py").path

    /// The first `count` MNIST test images as PruneLab feeds them (`[N, 1, 28, 28]`, /255).
    static func testImages(_ count: Int) throws -> Tensor {
        let json = """
            {"data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "test_limit": \(count)},
             "model": {"preset": "lenet-5"}}
            """
        return try ConfigLoader.decode(Data(json.utf8)).data.load().test.images
    }

    /// Writes `x` as the dataset `x` of a new HDF5 file (the batch python reads).
    static func writeBatch(_ x: Tensor, to url: URL) throws {
        let file = try HDF5File(creating: url.path)
        try file.writeDataset("x", shape: x.shape, values: x.scalars)
        try file.close()
    }

    static func readTensor(_ url: URL, _ name: String) throws -> Tensor {
        let v = try HDF5File(path: url.path).readFloats(name)
        return Tensor(shape: v.shape, scalars: v.values)
    }

    /// The largest |a - b| over `max(1, |b|)`: an absolute tolerance for logits near 0, relative above.
    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
        return zip(a.scalars, b.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    static func config(layers: String, initFile: String) -> String {
        """
        {"name": "torch-lenet5", "seed": 3,
         "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 256, "test_limit": 100},
         "model": {"layers": \(layers), "init_file": "\(initFile)"},
         "training": {"steps": 6, "batch_size": 32, "learning_rate": 0.05, "momentum": 0.9, "threads": 1},
         "tensorboard": {"enabled": false}}
        """
    }

    @Test(torch.trait)
    func torchLeNet5TrainsInPruneLabAndComesBackWithTheSameLogits() throws {
        try withScratchFolder("torch") { dir in
            let x = try Self.testImages(64)
            let batch = dir.appendingPathComponent("batch.h5")
            try Self.writeBatch(x, to: batch)
            let exported = dir.appendingPathComponent("torch-init")
            _ = try TestSupport.python([Self.script, "export", exported.path, batch.path])
            // the exported layer list is PruneLab's own LeNet-5
            let layersJSON = try String(contentsOf: exported.appendingPathComponent("layers.json"), encoding: .utf8)
            let specs = try JSONDecoder().decode([LayerSpec].self, from: Data(layersJSON.utf8))
            #expect(specs == ModelRegistry.presets["lenet-5"])

            let config = try ConfigLoader.decode(
                Data(Self.config(layers: layersJSON, initFile: exported.appendingPathComponent("init.h5").path).utf8))
            let session = try TrainingSession(config: config, data: try config.data.load())
            let initial = session.model.forward(x, training: false)
            let torchInitial = try Self.readTensor(exported.appendingPathComponent("logits.h5"), "logits")
            #expect(Self.maxDifference(initial, torchInitial) <= 1e-5)

            let run = dir.appendingPathComponent("run")
            _ = try Runner.run(config, options: RunOptions(outDir: run.path, progress: false))
            let trained = try TrainingSession(config: config, data: try config.data.load()).model
            try ModelFiles.load(path: run.appendingPathComponent("model.h5").path, into: trained)
            let prunelab = trained.forward(x, training: false)
            let out = dir.appendingPathComponent("torch-trained.h5")
            _ = try TestSupport.python([Self.script, "logits", run.appendingPathComponent("model.h5").path, batch.path, out.path])
            let torchTrained = try Self.readTensor(out, "logits")
            #expect(Self.maxDifference(prunelab, torchTrained) <= 1e-5)
            print(
                "logits max difference: initial \(Self.maxDifference(initial, torchInitial)), trained \(Self.maxDifference(prunelab, torchTrained))"
            )
            // training moved the weights: the trained logits are not the initial ones
            #expect(Self.maxDifference(prunelab, initial) > 1e-3)
        }
    }

    /// Every supported torch layer (padded bias-free conv, batch norms 2d and 1d with their
    /// running statistics, relu moved before a pool and a dropout, sigmoid, tanh, flatten, dropout) gives
    /// torch's evaluation-mode logits in PruneLab.
    @Test(torch.trait)
    func everySupportedLayerGivesTorchsLogits() throws {
        try withScratchFolder("torch-all") { dir in
            let x = try Self.testImages(32)
            let batch = dir.appendingPathComponent("batch.h5")
            try Self.writeBatch(x, to: batch)
            let exported = dir.appendingPathComponent("torch-init")
            let layers = try TestSupport.python([Self.script, "export-all", exported.path, batch.path])
            let config = try ConfigLoader.decode(
                Data(Self.config(layers: layers, initFile: exported.appendingPathComponent("init.h5").path).utf8))
            let model = try TrainingSession(config: config, data: try config.data.load()).model
            #expect(model.leafLayers.map(\.name).filter { $0.hasPrefix("bn") || $0.hasPrefix("drop") } == ["bn1", "drop1", "bn2", "drop2"])
            let torchLogits = try Self.readTensor(exported.appendingPathComponent("logits.h5"), "logits")
            #expect(Self.maxDifference(model.forward(x, training: false), torchLogits) <= 1e-5)
        }
    }

    /// Layers and settings PruneLab cannot reproduce are one ValueError each, naming the layer.
    @Test(torch.trait)
    func unsupportedLayersNameTheirIndexAndType() throws {
        let lines = try TestSupport.python([Self.script, "errors"]).split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        guard lines.count == 6 else { return }
        #expect(lines[0].hasPrefix("layer 1 (AvgPool2d): not supported"))
        #expect(lines[1].hasPrefix("layer 0 (Conv2d): kernel_size (3, 5)"))
        #expect(lines[2].hasPrefix("layer 1 (Linear): torch applies Linear to the last axis"))
        #expect(lines[3].hasPrefix("layer 1 (Softmax): not supported"))
        #expect(lines[4].hasPrefix("layer 1 (ReLU): the model must end with a Linear"))
        #expect(lines[5].hasPrefix("layer 1 (ReLU): an activation must follow"))
    }
}

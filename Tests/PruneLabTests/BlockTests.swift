import Testing
import Foundation
import TensorCore
import NN
import Pruning
@testable import Experiments

/// Residual and concat blocks (finite differences, the body run on its own as reference),
/// batch norm folding (folded equals unfolded at evaluation), compaction through batch norm
/// (compacted logits equal the masked model's), and the config kinds that build them.
@Suite struct BlockTests {
    func conv(_ name: String, _ inC: Int, _ outC: Int, kernel: Int, padding: Int, _ rng: inout RandomSource) -> Conv2D {
        let c = Conv2D(name: name, inChannels: inC, outChannels: outC, kernel: kernel, padding: padding)
        c.weight.value = FiniteDifference.randomTensor(c.weight.value.shape, &rng, scale: 0.5)
        c.bias.value = FiniteDifference.randomTensor([outC], &rng, scale: 0.5)
        return c
    }

    func body(_ merge: Block.Merge, _ rng: inout RandomSource) -> [Layer] {
        let out = merge == .add ? 2 : 3
        let bn = BatchNorm(name: "bn1", channels: out)
        bn.gamma.value = FiniteDifference.randomTensor([out], &rng)
        return [conv("conv1", 2, out, kernel: 3, padding: 1, &rng), bn, Activation(name: "act1", kind: .tanh)]
    }

    @Test(arguments: Block.Merge.allCases)
    func blockGradients(_ merge: Block.Merge) {
        var rng = RandomSource(seed: 41)
        let block = Block(name: "b1", merge: merge, body: body(merge, &rng))
        FiniteDifference.check(block, input: FiniteDifference.randomTensor([2, 2, 4, 4], &rng), rng: &rng)
    }

    @Test(arguments: Block.Merge.allCases)
    func blockForwardIsTheMergeOfInputAndBody(_ merge: Block.Merge) {
        var rng = RandomSource(seed: 42)
        let layers = body(merge, &rng)
        let block = Block(name: "b1", merge: merge, body: layers)
        let x = FiniteDifference.randomTensor([2, 2, 3, 3], &rng)
        let y = block.forward(x, training: false)
        let h = layers.reduce(x) { $1.forward($0, training: false) }
        #expect(y.shape == [2] + block.outputShape(for: [2, 3, 3]))
        for s in 0..<2 {
            for i in 0..<(y.count / 2) {
                let expected: Float
                switch merge {
                case .add: expected = x.scalars[s * 18 + i] + h.scalars[s * 18 + i]
                case .concat: expected = i < 18 ? x.scalars[s * 18 + i] : h.scalars[s * 27 + i - 18]
                }
                #expect(abs(y.scalars[s * (y.count / 2) + i] - expected) <= 1e-6, "sample \(s) entry \(i)")
            }
        }
    }

    func randomizeNonPrunable(_ model: Sequential, _ rng: inout RandomSource) {
        for p in model.parameters where !p.isPrunable { p.value = FiniteDifference.randomTensor(p.value.shape, &rng, scale: 0.5) }
        for case let bn as BatchNorm in model.leafLayers {
            bn.runningMean = FiniteDifference.randomTensor([bn.channels], &rng, scale: 0.5)
            bn.runningVar = Tensor(shape: [bn.channels], scalars: (0..<bn.channels).map { _ in Float(0.3 + rng.nextUniform()) })
        }
    }

    /// conv-bn-relu, pool, conv-bn-relu, pool, dense-bn-relu, dropout, dense softmax.
    func bnNet(seed: UInt64) throws -> Sequential {
        let model = try ModelRegistry.build(try bnConfig(), inputShape: [3, 8, 8], classCount: 4)
        var rng = RandomSource(seed: seed)
        Initializer.he.initialize(model, rng: &rng)
        randomizeNonPrunable(model, &rng)
        return model
    }

    func bnConfig() throws -> ModelConfig {
        let json = """
            {"layers": [
              {"type": "conv", "filters": 6, "kernel": 3, "padding": 1},
              {"type": "batchnorm", "activation": "relu"},
              {"type": "pool", "kernel": 2},
              {"type": "conv", "filters": 5, "kernel": 3, "padding": 1},
              {"type": "batchnorm", "activation": "relu"},
              {"type": "pool", "kernel": 2},
              {"type": "dense", "units": 8},
              {"type": "batchnorm", "activation": "relu"},
              {"type": "dropout", "rate": 0.3},
              {"type": "dense", "units": 4, "activation": "softmax"}]}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        try config.validate()
        return config
    }

    static func expectSame(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4) {
        #expect(a.shape == b.shape)
        for i in 0..<min(a.count, b.count) {
            #expect(
                abs(a.scalars[i] - b.scalars[i]) <= tolerance * max(1, abs(a.scalars[i])), "entry \(i): \(a.scalars[i]) vs \(b.scalars[i])")
        }
    }

    @Test func foldedModelEqualsUnfoldedAtEvaluation() throws {
        let model = try bnNet(seed: 43)
        let folded = model.foldingBatchNorms()
        #expect(!folded.leafLayers.contains { $0 is BatchNorm })
        #expect(
            folded.layers.map(\.name) == ["conv1", "act2", "pool1", "conv2", "act5", "pool2", "flatten1", "fc1", "act8", "drop1", "fc2"])
        var rng = RandomSource(seed: 44)
        let x = FiniteDifference.randomTensor([5, 3, 8, 8], &rng)
        Self.expectSame(model.forward(x, training: false), folded.forward(x, training: false))
        #expect(model.foldingBatchNorms() !== model && folded.foldingBatchNorms() === folded)
    }

    /// Removing a conv filter masks the matching batch norm channel too; compaction folds the
    /// batch norms and drops the channels; the small model's logits are the masked model's.
    @Test(arguments: UnitCriterionRegistry.names)
    func compactionThroughBatchNormKeepsTheMaskedLogits(_ name: String) throws {
        let criterion = try #require(UnitCriterionRegistry.criterion(named: name))
        let model = try bnNet(seed: 45)
        let units = StructuredPruning.unitLayers(model)
        #expect(
            units.map { $0.followers.map(\.name) } == [
                ["bn1.gamma", "bn1.beta"], ["bn2.gamma", "bn2.beta"], ["bn3.gamma", "bn3.beta"], [],
            ])
        for (layer, remove) in zip(units, [2, 3, 4]) {
            StructuredPruning.applyMask(layer, kept: StructuredPruning.select(layer, criterion: criterion, remove: remove))
        }
        let bn1 = try #require(model.leafLayers[1] as? BatchNorm)
        #expect(bn1.gamma.value.scalars.filter { $0 == 0 }.count == 2 && bn1.beta.mask != nil)
        let result = try Compaction.compact(model)
        #expect(result.units.map(\.after) == [4, 2, 4, 4])
        #expect(!result.model.leafLayers.contains { $0 is BatchNorm })
        #expect(result.model.parameter(named: "fc1.weight")?.value.shape == [4, 2 * 2 * 2])
        var rng = RandomSource(seed: 46)
        let x = FiniteDifference.randomTensor([6, 3, 8, 8], &rng)
        Self.expectSame(model.forward(x, training: false), result.model.forward(x, training: false))
        // the layer list that rebuilds it: each batchnorm merged into its conv/dense entry
        let specs = try CompactionReport.compactSpecs(config: try bnConfig(), units: result.units)
        #expect(!specs.contains { $0.kind == .batchnorm })
        #expect(specs[0] == .conv(filters: 4, kernel: 3, stride: 1, padding: 1, activation: .relu))
        var rebuilt = try bnConfig()
        rebuilt.layers = specs
        let again = try ModelRegistry.build(rebuilt, inputShape: [3, 8, 8], classCount: 4)
        #expect(again.parameters.map(\.value.shape) == result.model.parameters.map(\.value.shape))
    }

    /// A batch norm after the activation does not fold; it keeps the surviving channels.
    @Test func compactionKeepsAnUnfoldedBatchNormsSurvivingChannels() throws {
        let json = """
            {"layers": [
              {"type": "conv", "filters": 5, "kernel": 3, "activation": "relu"},
              {"type": "batchnorm"},
              {"type": "global_avg_pool"},
              {"type": "dense", "units": 3, "activation": "softmax"}]}
            """
        let model = try ModelRegistry.build(
            try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)), inputShape: [2, 6, 6], classCount: 3)
        var rng = RandomSource(seed: 47)
        Initializer.he.initialize(model, rng: &rng)
        randomizeNonPrunable(model, &rng)
        let conv1 = StructuredPruning.unitLayers(model)[0]
        StructuredPruning.applyMask(conv1, kept: StructuredPruning.select(conv1, criterion: L1UnitCriterion.self, remove: 2))
        let result = try Compaction.compact(model)
        let bn = try #require(result.model.leafLayers.first { $0 is BatchNorm } as? BatchNorm)
        #expect(bn.channels == 3 && result.units.map(\.after) == [3, 3])
        let x = FiniteDifference.randomTensor([4, 2, 6, 6], &rng)
        Self.expectSame(model.forward(x, training: false), result.model.forward(x, training: false))
    }

    @Test func denseBlockConfigBuildsBottleneckConcatLayers() throws {
        let json = """
            {"layers": [
              {"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
              {"type": "dense_block", "growth_rate": 3, "count": 2, "bottleneck": 2},
              {"type": "residual", "layers": [{"type": "conv", "filters": 10, "kernel": 1, "activation": "relu"}]},
              {"type": "global_avg_pool"},
              {"type": "dense", "units": 2, "activation": "softmax"}]}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        try config.validate()
        let model = try ModelRegistry.build(config, inputShape: [3, 5, 5], classCount: 2)
        #expect(model.layers.map(\.name) == ["conv1", "cat1", "cat2", "res1", "gap1", "fc1"])
        #expect(model.layerInputShapes[2] == [7, 5, 5] && model.layerInputShapes[3] == [10, 5, 5])
        #expect(model.parameter(named: "conv2.weight")?.value.shape == [6, 4, 1, 1])  // bottleneck 2 x growth 3
        #expect(model.parameter(named: "conv3.weight")?.value.shape == [3, 6, 3, 3])
        #expect(model.parameter(named: "conv6.weight")?.value.shape == [10, 10, 1, 1])
        #expect(model.weightedLayers.map(\.name) == ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc1"])
        var rng = RandomSource(seed: 48)
        Initializer.he.initialize(model, rng: &rng)
        #expect(model.parameter(named: "bn1.gamma")?.value.scalars.allSatisfy { $0 == 1 } == true)
        let logits = model.forward(FiniteDifference.randomTensor([2, 3, 5, 5], &rng), training: true)
        #expect(logits.shape == [2, 2])
        #expect(throws: PruningError.self) { try Compaction.compact(model) }
    }

    @Test func badBlockConfigsAreErrorsNamingTheLayer() throws {
        func message(_ json: String, input: [Int] = [3, 6, 6]) -> String {
            do {
                let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
                try config.validate()
                _ = try ModelRegistry.build(config, inputShape: input, classCount: 2)
                return "no error"
            } catch { return "\(error)" }
        }
        let out = #"{"type": "dense", "units": 2, "activation": "softmax"}"#
        #expect(
            message(#"{"layers": [{"type": "residual", "layers": [{"type": "conv", "filters": 4, "kernel": 1}]}, \#(out)]}"#).contains(
                "model.layers[0]"))
        #expect(message(#"{"layers": [{"type": "dropout", "rate": 1}, \#(out)]}"#).contains("model.layers[0].rate"))
        #expect(message(#"{"layers": [{"type": "concat", "layers": []}, \#(out)]}"#).contains("model.layers[0].layers"))
        #expect(message(#"{"layers": [{"type": "batchnorm", "momentum": 2}, \#(out)]}"#).contains("model.layers[0].momentum"))
        #expect(message(#"{"layers": [{"type": "dense_block", "growth_rate": 0}, \#(out)]}"#).contains("model.layers[0].growth_rate"))
        #expect(message(#"{"layers": [{"type": "dense", "units": 4}, {"type": "global_avg_pool"}, \#(out)]}"#).contains("model.layers[1]"))
        #expect(message(#"{"layers": [{"type": "dropout", "units": 3}, \#(out)]}"#).contains("units"))
    }

    /// The conv presets build for their images, and their shapes follow the documented plan.
    @Test(arguments: [
        ("vgg11-cifar", [3, 32, 32], 10), ("vgg11-cat64", [3, 64, 64], 2),
        ("densenet-cifar", [3, 32, 32], 10), ("densenet-cat64", [3, 64, 64], 2),
    ])
    func convPresetsBuildForTheirImages(_ preset: String, _ input: [Int], _ classes: Int) throws {
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"preset": "\#(preset)"}"#.utf8))
        try config.validate()
        let model = try ModelRegistry.build(config, inputShape: input, classCount: classes)
        var rng = RandomSource(seed: 49)
        Initializer.he.initialize(model, rng: &rng)
        let y = model.forward(FiniteDifference.randomTensor([2] + input, &rng), training: true)
        #expect(y.shape == [2, classes == 2 ? 1 : classes])
        let convs = model.weightedLayers.filter { $0.layer is Conv2D }
        if preset.hasPrefix("vgg") {
            let widths = convs.map { $0.weight.value.shape[0] }
            let d = preset == "vgg11-cifar" ? 4 : 8
            #expect(widths == [64, 128, 256, 256, 512, 512, 512, 512].map { $0 / d })
            #expect(model.leafLayers.filter { $0 is BatchNorm }.count == 9)
            #expect(model.parameter(named: "fc1.weight")?.value.shape == [128 / (d / 4), 512 / d * (input[1] / 32) * (input[1] / 32)])
        } else {
            #expect(model.layers.contains { $0 is GlobalAvgPool } && model.layers.contains { $0 is Block })
        }
    }

    /// `footprint.csv`'s numbers: the dense file's size at 0 sparsity is that of writing the
    /// model itself, CSR shrinks with sparsity, and the model leaves as it came.
    @Test func footprintMeasuresTheFilesOfThePrunedModel() throws {
        let model = try bnNet(seed: 50)
        var rng = RandomSource(seed: 51)
        let images = FiniteDifference.randomTensor([8, 3, 8, 8], &rng)
        let before = model.parameters.map(\.value)
        let t = try Footprint.table(
            model: model, parameters: model.prunableParameters, sparsities: [0, 0.9], scope: .global,
            testImages: images, testLabels: Array(repeating: 1, count: 8))
        #expect(model.parameters.map(\.value) == before && model.prunableParameters.allSatisfy { $0.mask == nil })
        let rows = t.rows.map { Dictionary(uniqueKeysWithValues: zip(Footprint.columns, $0)) }
        try withScratchFolder("footprint") { dir in
            let path = dir.appendingPathComponent("m.h5").path
            try ModelFiles.writeDense(model: model, configJSON: "{}", path: path)
            #expect(rows[0]["dense_bytes"] == String(ModelFiles.fileSize(URL(fileURLWithPath: path))))
        }
        #expect(abs((Double(rows[1]["achieved_sparsity"] ?? "") ?? 0) - 0.9) < 0.01)
        #expect((Int(rows[1]["csr_bytes"] ?? "") ?? .max) < (Int(rows[0]["csr_bytes"] ?? "") ?? 0))
        #expect(rows[0]["dense_bytes"] == rows[1]["dense_bytes"])
    }

    /// Re-estimated statistics are the exact mean and unbiased variance of each batch norm's
    /// input over the images, in chunks, with dropout off.
    @Test func recalibrationSetsTheExactStatisticsOfTheInputs() throws {
        let model = try bnNet(seed: 52)
        var rng = RandomSource(seed: 53)
        let images = FiniteDifference.randomTensor([7, 3, 8, 8], &rng)
        model.recalibrateBatchNorms(images: images, chunk: 3)
        let bn1 = try #require(model.layers[1] as? BatchNorm)
        let z = model.layers[0].forward(images, training: false)  // conv1's output, bn1's input
        for c in 0..<6 {
            var v: [Double] = []
            for s in 0..<7 { for t in 0..<64 { v.append(Double(z.scalars[(s * 6 + c) * 64 + t])) } }
            let mean = v.reduce(0, +) / Double(v.count)
            let unbiased = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)
            #expect(abs(Double(bn1.runningMean.scalars[c]) - mean) <= 1e-5 * max(1, abs(mean)))
            #expect(abs(Double(bn1.runningVar.scalars[c]) - unbiased) <= 1e-4 * max(1, unbiased))
        }
        #expect(!bn1.alwaysUseBatchStatistics && bn1.batchCount == 0)
    }
}

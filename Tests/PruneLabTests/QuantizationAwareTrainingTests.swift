import Testing
import Foundation
import TensorCore
import NN
import Training
import Quantization
@testable import Experiments

/// The straight-through estimator against finite differences, and quantization-aware
/// fine-tuning against post-training quantization on a small real run.
@Suite struct QuantizationAwareTrainingTests {
    static let spec = QuantizationSpec(bits: 2, perChannel: true)

    static func trainer(_ model: Sequential, images: Tensor, labels: [Int]) -> Trainer {
        Trainer(
            model: model, optimizer: SGD(parameters: model.parameters), schedule: LearningRateSchedule(base: 0.1),
            batcher: Batcher(images: images, labels: labels, batchSize: labels.count, shuffle: false, rng: RandomSource(seed: 1)))
    }

    static func batch() -> (Tensor, [Int]) {
        var rng = RandomSource(seed: 11)
        return (FiniteDifference.randomTensor([8, 6], &rng), (0..<8).map { $0 % 3 })
    }

    /// The mean loss of `model` on the batch in Double, for central differences.
    static func loss(_ model: Sequential, _ x: Tensor, _ y: [Int]) -> Double {
        model.loss.evaluate(logits: model.forward(x, training: false), labels: y[...], wantGradient: false).loss
    }

    @Test func steGradientIsTheDenseGradientAtTheQuantizedWeights() {
        let model = QuantizationTests.model()
        let (x, y) = Self.batch()
        let trainer = Self.trainer(model, images: x, labels: y)
        let hook = QuantizationHook(spec: Self.spec, startStep: 0)
        let floats = model.parameters.map(\.value)
        hook.willComputeGradients(trainer)
        _ = trainer.computeGradients(x, y[...])
        hook.didComputeGradients(trainer)
        #expect(model.parameters.map(\.value) == floats, "the float weights are back before the optimizer step")
        let ste = model.weightedLayers.map { $0.weight.grad }
        // finite differences of the loss at the fake-quantized weights (every layer quantized),
        // one weight at a time
        for l in model.weightedLayers {
            var q = l.weight.value.scalars
            FakeQuantize.apply(&q, rows: l.weight.value.shape[0], mask: l.weight.mask?.scalars, spec: Self.spec)
            l.weight.value = Tensor(shape: l.weight.value.shape, scalars: q)
        }
        for (l, grad) in zip(model.weightedLayers, ste) {
            let w = l.weight, q = w.value
            for i in 0..<q.count where w.mask?.scalars[i] ?? 1 != 0 {
                var plus = q, minus = q
                plus.scalars[i] += FiniteDifference.eps
                minus.scalars[i] -= FiniteDifference.eps
                w.value = plus
                let lp = Self.loss(model, x, y)
                w.value = minus
                let lm = Self.loss(model, x, y)
                FiniteDifference.expectClose(grad.scalars[i], (lp - lm) / Double(2 * FiniteDifference.eps), "\(w.name)[\(i)]")
            }
            w.value = q
        }
    }

    @Test func aQuantizedStepUpdatesTheFloatWeightsWithThatGradient() throws {
        let (x, y) = Self.batch()
        let model = QuantizationTests.model()
        let reference = QuantizationTests.model()
        // reference: the gradient at the quantized weights, applied by hand to the float weights
        for (r, m) in zip(reference.weightedLayers, model.weightedLayers) {
            var q = m.weight.value.scalars
            FakeQuantize.apply(&q, rows: m.weight.value.shape[0], mask: m.weight.mask?.scalars, spec: Self.spec)
            r.weight.value = Tensor(shape: m.weight.value.shape, scalars: q)
        }
        _ = Self.trainer(reference, images: x, labels: y).computeGradients(x, y[...])
        let trainer = Self.trainer(model, images: x, labels: y)
        let before = model.parameters.map(\.value.scalars)
        trainer.gradientHooks = [QuantizationHook(spec: Self.spec, startStep: 0)]
        try trainer.train(steps: 1)
        for (p, (w0, r)) in zip(model.parameters, zip(before, reference.parameters)) {
            let mask = p.mask?.scalars ?? [Float](repeating: 1, count: w0.count)
            let expected = (0..<w0.count).map { (w0[$0] - Float(0.1) * r.grad.scalars[$0]) * mask[$0] }
            for i in 0..<w0.count { #expect(abs(p.value.scalars[i] - expected[i]) <= 1e-6, "\(p.name)[\(i)]") }
        }
    }

    @Test func fineTuningRecoversWhatTwoBitQuantizationLost() throws {
        try withScratchFolder("qat") { dir in
            let run = dir.appendingPathComponent("han").path
            let pruning = """
                , "pruning": {"method": "han", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
                  "han": {"rule": "sparsity", "rounds": 1, "retrain": "1ep", "retrain_learning_rate": 0.01}}
                """
            let config = try ConfigLoader.decode(Data(EndToEndTests.mnistConfig(pruning).utf8))
            let outcome = try Runner.run(config, options: RunOptions(outDir: run, progress: false))
            let ptq = try PostTrainingQuantization.run(.init(runDir: run, bits: 2, outDir: dir.appendingPathComponent("ptq").path))
            #expect(ptq.before.accuracy == outcome.summary.testAccuracy)
            let qat = try PostTrainingQuantization.run(
                .init(runDir: run, bits: 2, outDir: dir.appendingPathComponent("qat").path, finetuneEpochs: 1, finetuneLearningRate: 0.01))
            #expect(ptq.after.accuracy < ptq.before.accuracy - 0.05, "2 bits per channel loses accuracy")
            #expect(qat.after.accuracy > ptq.after.accuracy + 0.05, "fine-tuned \(qat.after.accuracy) vs \(ptq.after.accuracy)")
            // pruned weights stayed pruned through fine-tuning and quantization
            #expect(qat.layers.map(\.live) == ptq.layers.map(\.live))
            #expect(qat.layers.reduce(0) { $0 + $1.live } == outcome.summary.nonzeroWeights)
            let rows = try CSVReader.read(dir.appendingPathComponent("qat/quantize.csv"))
            let row = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
            #expect(row["test_accuracy_after"] == String(qat.after.accuracy) && row["finetune_epochs"] == "1")
        }
    }

    @Test func aPruningRunWithQuantizationAwareTrainingWritesItsQuantizedModel() throws {
        try withScratchFolder("qat-run") { dir in
            let run = dir.appendingPathComponent("run").path
            let pruning = """
                , "pruning": {"method": "han", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
                  "han": {"rule": "sparsity", "rounds": 1, "retrain": "1ep", "retrain_learning_rate": 0.01}}
                """
            let config = try ConfigLoader.decode(
                Data(EndToEndTests.mnistConfig(pruning, epochs: 1).utf8),
                overrides: ["training.quantize.bits=4", "training.quantize.per_channel=false"])
            let outcome = try Runner.run(config, options: RunOptions(outDir: run, progress: false))
            let quantizedAccuracy = try #require(outcome.summary.extra.first { $0.name == "quantized_test_accuracy" })
            // the same quantizer afterwards, on the float weights of model.h5, gives the same accuracy
            let again = try PostTrainingQuantization.run(
                .init(runDir: run, bits: 4, perChannel: false, outDir: dir.appendingPathComponent("again").path))
            #expect(quantizedAccuracy.value == .double(again.after.accuracy))
            #expect(again.after.accuracy > 0.7)
            // pruning and quantization-aware training together: the pruned weights have no code
            #expect(again.layers.reduce(0) { $0 + $1.live } == outcome.summary.nonzeroWeights)
            #expect(outcome.summary.sparsity > 0.85)
        }
    }

    @Test func badInputIsOneLineAndWritesNothing() throws {
        try withScratchFolder("quantize-bad") { dir in
            let empty = dir.appendingPathComponent("empty")
            try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
            let notRun = thrownMessage { _ = try PostTrainingQuantization.run(.init(runDir: empty.path, bits: 2)) }
            #expect(notRun == "\(empty.path): not a PruneLab run folder (no config.json)")
            try Data("{}".utf8).write(to: empty.appendingPathComponent("config.json"))
            let noModel = thrownMessage { _ = try PostTrainingQuantization.run(.init(runDir: empty.path, bits: 4)) }
            #expect(noModel == "\(empty.path)/model.h5: missing; quantize needs a finished run's model")
            let bits = thrownMessage { _ = try PostTrainingQuantization.run(.init(runDir: empty.path, bits: 3)) }
            #expect(bits == "--bits 3: unsupported; use 1, 2, 4 or 8")
            #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path) == ["config.json"])
        }
    }
}

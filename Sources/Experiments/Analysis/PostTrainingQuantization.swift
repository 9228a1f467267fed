import Foundation
import TensorCore
import NN
import Training
import Quantization
import Schema

/// `prunelab quantize`: quantizes a finished run's model, optionally after a short
/// quantization-aware fine-tuning, and measures test accuracy and bytes before and after.
public enum PostTrainingQuantization {
    public struct Options: Sendable {
        public var runDir: String
        public var bits: Int
        public var perChannel: Bool
        /// Where the outputs go (nil: the run folder itself).
        public var outDir: String?
        /// Epochs of quantization-aware training before quantizing (0: post-training only).
        public var finetuneEpochs: Int
        /// Learning rate of the fine-tuning (nil: the run's `training.learning_rate`).
        public var finetuneLearningRate: Double?

        public init(
            runDir: String, bits: Int, perChannel: Bool = true, outDir: String? = nil, finetuneEpochs: Int = 0,
            finetuneLearningRate: Double? = nil
        ) {
            self.runDir = runDir
            self.bits = bits
            self.perChannel = perChannel
            self.outDir = outDir
            self.finetuneEpochs = finetuneEpochs
            self.finetuneLearningRate = finetuneLearningRate
        }
    }

    /// What the command measured (also written to `quantize.csv` and `quantize-layers.csv`).
    public struct Outcome {
        public var folder: URL
        /// The run's model on its test set.
        public var before: Evaluation
        /// The float model after fine-tuning (nil without fine-tuning).
        public var finetuned: Evaluation?
        /// `model-quantized.h5` re-loaded and evaluated.
        public var after: Evaluation
        public var layers: [QuantizedModelFile.LayerBytes]
        public var denseBytes: Int
        public var sparseBytes: Int
        public var quantizedFileBytes: Int
        public var payloadBytes: Int { layers.reduce(0) { $0 + $1.totalBytes } }
    }

    public static let summaryName = "quantize.csv"
    public static let layersName = "quantize-layers.csv"

    public static func run(_ o: Options) throws -> Outcome {
        guard QuantizationSpec.supportedBits.contains(o.bits) else {
            throw RunError("--bits \(o.bits): unsupported; use 1, 2, 4 or 8")
        }
        if o.finetuneEpochs < 0 { throw RunError("--finetune-epochs \(o.finetuneEpochs): must be >= 0") }
        if let lr = o.finetuneLearningRate, !(lr > 0) || !lr.isFinite {
            throw RunError("--finetune-lr \(lr): must be > 0")
        }
        let run = URL(fileURLWithPath: o.runDir, isDirectory: true)
        let (config, modelFile) = try inputs(of: run)
        let spec = QuantizationSpec(bits: o.bits, perChannel: o.perChannel)
        let data = try config.data.load()
        let session = try TrainingSession(config: finetuneConfig(config, o), data: data)
        try ModelFiles.load(path: modelFile.path, into: session.model)
        let folder = try outputFolder(o, run: run)
        defer { folder.release() }
        // claimed before any work: a file of these names that PruneLab did not write is refused
        let target = try folder.claim(QuantizedModelFile.name)
        let summaryURL = try folder.claim(summaryName), layersURL = try folder.claim(layersName)
        let before = session.evaluateTest()
        var finetuned: Evaluation?
        if o.finetuneEpochs > 0 {
            try session.trainer.train(steps: session.plannedSteps)
            finetuned = session.evaluateTest()
        }
        let configJSON = String(decoding: try ConfigLoader.canonicalJSON(config), as: UTF8.self)
        var layers: [QuantizedModelFile.LayerBytes] = []
        var after = before
        try ModelFiles.atomically(target) { tmp in
            layers = try QuantizedModelFile.write(model: session.model, spec: spec, configJSON: configJSON, path: tmp)
            let check = try TrainingSession(config: config, data: data)  // a fresh model, as a user would load it
            try ModelFiles.load(path: tmp, into: check.model)
            after = check.evaluateTest()
        }
        let outcome = Outcome(
            folder: folder.url, before: before, finetuned: finetuned, after: after, layers: layers,
            denseBytes: ModelFiles.fileSize(run.appendingPathComponent(ModelFiles.denseName)),
            sparseBytes: ModelFiles.fileSize(run.appendingPathComponent(ModelFiles.sparseName)),
            quantizedFileBytes: ModelFiles.fileSize(target))
        try summaryTable(outcome, o, config: config).write(to: summaryURL)
        try layersTable(outcome).write(to: layersURL)
        return outcome
    }

    /// A quantization-aware run's `model-quantized.h5` at its `training.quantize` settings, and
    /// the summary columns `quantized_test_accuracy` (the file re-loaded and evaluated) and
    /// `quantized_bytes` (its size).
    static func writeQuantized(_ run: RunContext, summary: inout SummaryRow) throws {
        let config = run.config, target = run.folder.file(QuantizedModelFile.name)
        let configJSON = String(decoding: try ConfigLoader.canonicalJSON(config), as: UTF8.self)
        var after: Evaluation?
        try ModelFiles.atomically(target) { tmp in
            _ = try QuantizedModelFile.write(
                model: run.session.model, spec: config.training.quantize.spec, configJSON: configJSON, path: tmp)
            let check = try TrainingSession(config: config, data: run.data)
            try ModelFiles.load(path: tmp, into: check.model)
            after = check.evaluateTest()
        }
        summary.extra.append(SummaryColumn("quantized_test_accuracy", .double(after?.accuracy ?? .nan)))
        summary.extra.append(SummaryColumn("quantized_bytes", .int(ModelFiles.fileSize(target))))
    }

    /// The run's config and model file, or a one-line error naming what is missing.
    static func inputs(of run: URL) throws -> (ExperimentConfig, URL) {
        let configURL = try RunFolder.configFile(ofRun: run)
        let model = run.appendingPathComponent(ModelFiles.denseName)
        guard FileManager.default.fileExists(atPath: model.path) else {
            throw RunError("\(model.path): missing; quantize needs a finished run's model")
        }
        return (try ModelFiles.config(try ConfigLoader.load(path: configURL.path), matching: model), model)
    }

    /// The run's config set up for quantization-aware fine-tuning: `finetuneEpochs` epochs at a
    /// constant learning rate with `training.quantize` on from the first step.
    static func finetuneConfig(_ config: ExperimentConfig, _ o: Options) -> ExperimentConfig {
        var c = config
        c.training.epochs = max(o.finetuneEpochs, 1)
        c.training.steps = 0
        c.training.schedule.kind = .constant
        c.training.schedule.warmup = Schema.Duration(0, .steps)
        c.training.learningRate = o.finetuneLearningRate ?? config.training.learningRate
        c.training.quantize = QuantizeConfig(bits: o.bits, perChannel: o.perChannel)
        return c
    }

    /// The folder the outputs go to: the run folder (locked, its manifest extended), or `--out`,
    /// a new or empty folder or one a previous `prunelab quantize` wrote (never a training run's).
    static func outputFolder(_ o: Options, run: URL) throws -> RunFolder {
        guard let out = o.outDir, URL(fileURLWithPath: out).standardizedFileURL != run.standardizedFileURL else {
            let folder = RunFolder(path: run.path)
            try folder.openToAdd()
            return folder
        }
        let folder = RunFolder(path: out)
        if FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("run.json").path) {
            throw RunError("\(folder.url.path): holds a training run; to add the quantized model to it, give it as RUN_DIR without --out")
        }
        try folder.open(force: false)
        return folder
    }

    /// The lines `prunelab quantize` prints: accuracies, bytes and where the files went.
    public static func report(_ r: Outcome, bits: Int) -> String {
        var lines = [String(format: "test accuracy %.4f before", r.before.accuracy)]
        if let f = r.finetuned {
            lines.append(String(format: "test accuracy %.4f after quantization-aware fine-tuning (float weights)", f.accuracy))
        }
        lines.append(String(format: "test accuracy %.4f after %d-bit quantization (model-quantized.h5 re-loaded)", r.after.accuracy, bits))
        lines.append(
            "bytes: model.h5 \(r.denseBytes), model-sparse.h5 \(r.sparseBytes), model-quantized.h5 \(r.quantizedFileBytes) (payload \(r.payloadBytes): codes, scales, index, biases)"
        )
        lines.append(r.folder.appendingPathComponent(QuantizedModelFile.name).path)
        return lines.joined(separator: "\n")
    }

    static func summaryTable(_ r: Outcome, _ o: Options, config: ExperimentConfig) -> CSVTable {
        var t = CSVTable(columns: [
            "run", "name", "bits", "per_channel", "finetune_epochs", "finetune_learning_rate", "test_accuracy_before",
            "test_accuracy_finetuned", "test_accuracy_after", "test_loss_after", "live_weights", "dense_bytes", "sparse_bytes",
            "quantized_payload_bytes", "quantized_file_bytes",
        ])
        t.append([
            .string(o.runDir), .string(config.name), .int(o.bits), .int(o.perChannel ? 1 : 0), .int(o.finetuneEpochs),
            o.finetuneEpochs > 0 ? .double(o.finetuneLearningRate ?? config.training.learningRate) : "",
            .double(r.before.accuracy), r.finetuned.map { .double($0.accuracy) } ?? "", .double(r.after.accuracy),
            .double(r.after.loss), .int(r.layers.reduce(0) { $0 + $1.live }), .int(r.denseBytes), .int(r.sparseBytes),
            .int(r.payloadBytes), .int(r.quantizedFileBytes),
        ])
        return t
    }

    static func layersTable(_ r: Outcome) -> CSVTable {
        var t = CSVTable(columns: [
            "layer", "shape", "live", "scales", "code_bytes", "scale_bytes", "index", "index_bytes", "bias_bytes", "total_bytes",
            "max_abs_error",
        ])
        for l in r.layers {
            t.append([
                .string(l.layer), .string(l.shape.map(String.init).joined(separator: "x")), .int(l.live), .int(l.scales),
                .int(l.codeBytes), .int(l.scaleBytes), .string(l.index), .int(l.indexBytes), .int(l.biasBytes),
                .int(l.totalBytes), .double(Double(l.maxAbsError)),
            ])
        }
        return t
    }
}

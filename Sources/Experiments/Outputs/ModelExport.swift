import Foundation
import HDF5Support
import NN
import ONNX

/// `prunelab export`: a finished run's model as an ONNX file (`ONNXExport`: opset 17, input
/// `input` `[N, C, H, W]`, output `logits`).
///
/// The model is rebuilt from the run's `config.json` (the compacted one from the `layers` root
/// attribute of `model-compact.h5`) on the run's data's sample shape, its weights loaded from
/// the chosen file. `dense` (`model.h5`) and `sparse` (`model-sparse.h5`, the masked model in
/// compressed rows) give the same plain graph with pruned weights stored as zeros; `compact`
/// (`model-compact.h5`, structured runs) the physically smaller layers. With `foldBatchNorm`,
/// each batch norm right after a conv or dense layer is folded into it (the others stay
/// `BatchNormalization` nodes). The file goes to `out`, default `RUN_DIR/model.onnx`
/// (`model-sparse.onnx`, `model-compact.onnx`), written atomically; a file of that name that
/// PruneLab did not write is refused, untouched.
public enum ModelExport {
    /// Which of the run's model files to export.
    public enum Source: String, CaseIterable, Sendable {
        case dense, sparse, compact

        /// The model file in the run folder.
        public var fileName: String {
            switch self {
            case .dense: return ModelFiles.denseName
            case .sparse: return ModelFiles.sparseName
            case .compact: return "model-compact.h5"
            }
        }

        /// The default name of the ONNX file in the run folder.
        public var onnxName: String {
            switch self {
            case .dense: return "model.onnx"
            case .sparse: return "model-sparse.onnx"
            case .compact: return "model-compact.onnx"
            }
        }
    }

    public struct Options: Sendable {
        public var runDir: String
        public var source: Source
        public var foldBatchNorm: Bool
        public var out: String?

        public init(runDir: String, source: Source = .dense, foldBatchNorm: Bool = false, out: String? = nil) {
            self.runDir = runDir
            self.source = source
            self.foldBatchNorm = foldBatchNorm
            self.out = out
        }
    }

    /// What was written: the file, its size, the graph's node count and the model's parameter count.
    public struct Outcome: Sendable {
        public var file: URL
        public var bytes: Int
        public var nodes: Int
        public var parameters: Int
    }

    public static func run(_ o: Options) throws -> Outcome {
        let run = URL(fileURLWithPath: o.runDir, isDirectory: true)
        let (config, modelFile) = try inputs(of: run, source: o.source)
        let target = o.out.map { URL(fileURLWithPath: $0) } ?? run.appendingPathComponent(o.source.onnxName)
        var model = try load(config: config, modelFile: modelFile, source: o.source)
        if o.foldBatchNorm { model = model.foldingBatchNorms() }
        let proto = ONNXExport.model(model, producer: "prunelab", version: RunInfo.toolVersion)
        let data: Data
        do { data = try proto.serializedData() } catch { throw RunError("\(target.path): cannot encode the ONNX model: \(error)") }
        try OutputFolder.write(data, to: target)
        return Outcome(
            file: target, bytes: data.count, nodes: proto.graph.node.count,
            parameters: model.parameters.reduce(0) { $0 + $1.value.count })
    }

    /// The run's config and the model file to read; one-line errors for a folder that is not a
    /// run and a missing model file.
    static func inputs(of run: URL, source: Source) throws -> (ExperimentConfig, URL) {
        let configURL = try RunFolder.configFile(ofRun: run)
        let file = run.appendingPathComponent(source.fileName)
        guard FileManager.default.fileExists(atPath: file.path) else {
            let why = source == .compact ? "only structured runs write it" : "the run has not finished"
            throw RunError("\(file.path): missing; --model \(source.rawValue) exports it (\(why))")
        }
        let config = try ConfigLoader.load(path: configURL.path)
        return (source == .compact ? config : try ModelFiles.config(config, matching: file), file)
    }

    /// The model of `config` (for `compact`, the layer list stored in the file) on the run's
    /// data's sample shape, with the file's weights.
    static func load(config: ExperimentConfig, modelFile: URL, source: Source) throws -> Sequential {
        var modelConfig = config.model
        if source == .compact {
            let json = try HDF5File(path: modelFile.path).attributeString("layers")
            do {
                modelConfig.layers = try JSONDecoder().decode([LayerSpec].self, from: Data(json.utf8))
            } catch {
                throw RunError("\(modelFile.path): the root attribute layers is not a layer list: \(error)")
            }
            modelConfig.preset = nil
        }
        let data = try config.data.load()
        let model = try ModelRegistry.build(modelConfig, inputShape: data.train.sampleShape, classCount: data.train.classCount)
        try ModelFiles.load(path: modelFile.path, into: model)
        return model
    }
}

import ArgumentParser
import Foundation
import Experiments

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a finished run's model (dense, masked or compacted) as an ONNX file.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case onnx }

    @Argument(help: "A finished run folder (holds config.json and the model file).")
    var runDir: String

    @Option(help: "The file format: onnx (opset 17).")
    var format: Format = .onnx

    @Option(
        help: ArgumentHelp(
            "Which model: dense (model.h5), sparse (model-sparse.h5, pruned weights as zeros) or compact (model-compact.h5).",
            valueName: "dense|sparse|compact"))
    var model: ModelExport.Source = .dense

    @Flag(help: "Fold each batch norm that follows a conv or dense layer into it (default: BatchNormalization nodes).")
    var foldBatchnorm = false

    @Option(help: "The file to write (default RUN_DIR/model.onnx, model-sparse.onnx or model-compact.onnx).")
    var out: String?

    func validate() throws {
        try requirePath(out, "--out", "lenet5.onnx")
        try requirePath(runDir, "RUN_DIR", "runs/lenet")
    }

    func run() throws {
        try reportingErrors {
            let r = try ModelExport.run(.init(runDir: runDir, source: model, foldBatchNorm: foldBatchnorm, out: out))
            print("\(r.file.path) (\(r.bytes) bytes, \(r.nodes) nodes, \(r.parameters) parameters)")
        }
    }
}

extension ModelExport.Source: ExpressibleByArgument {}

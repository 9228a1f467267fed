import ArgumentParser
import Foundation
import Experiments

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify JPEG and PNG images with a finished run's model; print class and probability, write a CSV.")

    @Argument(help: "A finished run folder (holds config.json and model.h5).")
    var runDir: String

    @Argument(help: "Image files (JPEG, PNG) or folders of them.")
    var images: [String]

    @Option(help: "The model file to use (default RUN_DIR/model.h5; model-sparse.h5 and model-quantized.h5 work too).")
    var model: String?

    @Option(help: "Write the CSV here (default RUN_DIR/predictions.csv).")
    var csv: String?

    func validate() throws {
        try requirePath(csv, "--csv", "predictions.csv")
        try requirePath(runDir, "RUN_DIR", "runs/lenet")
    }

    func run() throws {
        let outcome = try reportingErrors { try Prediction.run(runDir: runDir, paths: images, modelFile: model, csv: csv) }
        for r in outcome.rows { print("\(r.path)  class \(r.predicted)  probability \(String(format: "%.4f", r.probability))") }
        for f in outcome.failures { FileHandle.standardError.write(Data("prunelab: error: \(f)\n".utf8)) }
        print(outcome.csv.path)
        if !outcome.failures.isEmpty { throw ExitCode(1) }
    }
}

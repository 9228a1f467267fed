import Foundation
import TensorCore
import NN
import Datasets

/// `prunelab predict`: a finished run's model on the user's own JPEG and PNG files.
public enum Prediction {
    /// One image's prediction: the class, its probability and every class's probability
    /// (softmax; for a one-logit sigmoid model [1 - p, p], class 1 when the logit is > 0, the
    /// rule the accuracy counts with).
    public struct Row: Sendable {
        public var path: String
        public var predicted: Int
        public var probabilities: [Double]
        public var probability: Double { probabilities[predicted] }
    }

    public struct Outcome: Sendable {
        public var rows: [Row]
        /// One line per image that could not be read or decoded, naming the file.
        public var failures: [String]
        public var csv: URL
    }

    /// Predicts every image in `paths` (files, or folders whose files are taken in name order)
    /// with `modelFile` (default the run's `model.h5`) and writes the CSV to `csv` (default
    /// `RUN_DIR/predictions.csv`). An image that fails is reported and skipped, the others are
    /// still predicted.
    public static func run(runDir: String, paths: [String], modelFile: String? = nil, csv: String? = nil) throws -> Outcome {
        let run = URL(fileURLWithPath: runDir, isDirectory: true)
        let (config, defaultModel) = try PostTrainingQuantization.inputs(of: run)
        let files = try expand(paths)
        let data = try config.data.load()
        let session = try TrainingSession(config: config, data: data)
        try ModelFiles.load(path: modelFile ?? defaultModel.path, into: session.model)
        let shape = session.model.inputShape
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3 else {
            throw RunError("\(runDir): the model takes \(shape), not an image of 1 or 3 channels")
        }
        let normalization = data.normalization  // the training inputs' standardisation, if any
        var rows: [Row] = [], failures: [String] = []
        for file in files {
            do {
                var input = ImageFile.modelInput(try ImageFile.decode(path: file), shape: shape)
                if let n = normalization { input = n.applied(to: input, plane: shape[1] * shape[2]) }
                rows.append(predict(session.model, input: Tensor(shape: [1] + shape, scalars: input), path: file))
            } catch {
                failures.append("\(error)")
            }
        }
        let target = csv.map { URL(fileURLWithPath: $0) } ?? run.appendingPathComponent("predictions.csv")
        let classes = rows.first?.probabilities.count ?? 0
        var table = CSVTable(columns: ["path", "class", "probability"] + (0..<classes).map { "p\($0)" })
        for r in rows { table.append([.string(r.path), .int(r.predicted), .double(r.probability)] + r.probabilities.map { .double($0) }) }
        let folder = try OutputFolder(holding: target)
        defer { folder.release() }
        try table.write(to: try folder.claim(target.lastPathComponent))
        return Outcome(rows: rows, failures: failures, csv: target)
    }

    /// The class probabilities of one image.
    static func predict(_ model: Sequential, input: Tensor, path: String) -> Row {
        let logits = model.forward(input, training: false).scalars.map { Double($0) }
        if logits.count == 1 {
            let p = 1 / (1 + exp(-logits[0]))
            return Row(path: path, predicted: logits[0] > 0 ? 1 : 0, probabilities: [1 - p, p])
        }
        let top = logits.max() ?? 0
        let e = logits.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        // the first maximum, as the accuracy counts it
        let predicted = logits.firstIndex(of: top) ?? 0
        return Row(path: path, predicted: predicted, probabilities: e.map { $0 / sum })
    }

    /// Files as given, folders replaced by their (non-hidden) files in name order.
    static func expand(_ paths: [String]) throws -> [String] {
        guard !paths.isEmpty else { throw RunError("no images given") }
        var files: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
                files.append(p)  // reported as unreadable with the other failures
                continue
            }
            guard isDir.boolValue else {
                files.append(p)
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let full = URL(fileURLWithPath: p).appendingPathComponent(name).path
                var sub: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { files.append(full) }
            }
        }
        return files
    }
}

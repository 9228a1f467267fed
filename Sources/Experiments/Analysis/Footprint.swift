import Foundation
import TensorCore
import NN
import Training
import Pruning

/// Bytes on disk of the model pruned without retraining (`footprint.csv`): the trained model
/// is pruned by magnitude to each sparsity (`scope` layer-wise or global over `parameters`),
/// then written as `model.h5` (dense), `model-sparse.h5` (CSR) and, after compaction (batch
/// norms folded, units whose weights, bias and batch norm channel are all 0 removed), as
/// `model-compact.h5`, each to a temporary folder PruneLab removes again; the test accuracy of
/// the pruned model stands beside them. Weights and masks are restored after each point.
/// Quantized sizes are not measured here.
public enum Footprint {
    public static let columns = [
        "scope", "sparsity", "achieved_sparsity", "test_accuracy", "dense_bytes", "csr_bytes", "compact_bytes", "compact_weights",
    ]

    public static func table(
        model: Sequential, parameters: [Parameter], sparsities: [Double], scope: PruningScope,
        testImages: Tensor, testLabels: [Int], workers: Int = 1
    ) throws -> CSVTable {
        var table = CSVTable(columns: columns)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-footprint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = parameters.map { ($0.value, $0.mask) }
        defer {
            for (p, s) in zip(parameters, saved) {
                p.value = s.0
                p.setMask(s.1)
            }
        }
        for s in sparsities {
            var rules: [String: ThresholdRule] = [:]
            for p in parameters { rules[p.name] = .sparsity(s) }
            let masks = MagnitudePruner(rules: rules, scope: scope).masks(for: parameters, scores: parameters.map(MagnitudeScore.scores))
            for p in parameters { if let m = masks[p.name] { p.setMask(m) } }
            let e = Evaluation.run(model, images: testImages, labels: testLabels, workers: workers)
            let compact = try Compaction.compact(model).model
            let bytes = try [(model, false), (model, true), (compact, false)].enumerated().map { i, m in
                let path = dir.appendingPathComponent("m\(i).h5").path
                if m.1 {
                    try ModelFiles.writeSparse(model: m.0, configJSON: "{}", path: path)
                } else {
                    try ModelFiles.writeDense(model: m.0, configJSON: "{}", path: path)
                }
                return ModelFiles.fileSize(URL(fileURLWithPath: path))
            }
            table.append([
                .string(scope.rawValue), .double(s), .double(Parameter.sparsity(parameters)), .double(e.accuracy),
                .int(bytes[0]), .int(bytes[1]), .int(bytes[2]), .int(compact.weightCounts.total),
            ])
            for (p, v) in zip(parameters, saved) {
                p.value = v.0
                p.setMask(v.1)
            }
        }
        return table
    }
}

import Foundation
import TensorCore
import NN

/// The per-layer table of a model: weights, nonzeros, sparsity, forward FLOPs per sample.
///
/// FLOPs count a multiply-add as 2 plus one add per bias; `sparse_flops` counts only nonzero
/// weights (the convention of Han et al. 2015, table 1).
public enum LayerReport {
    public static let columns = ["layer", "weights", "nonzero", "sparsity", "dense_flops", "sparse_flops"]

    public static func table(_ model: Sequential) -> CSVTable {
        var t = CSVTable(columns: columns)
        for layer in model.layers {
            guard let w = layer.parameters.first(where: \.isPrunable) else { continue }
            let shape = model.layerInputShapes[model.layers.firstIndex { $0 === layer }!]
            let total = w.value.count
            let nz = w.value.nonzeroCount
            let bias = layer.forwardFLOPs(inputShape: shape, activeOnly: false) - 2 * total
            t.append([.string(layer.name), .int(total), .int(nz), .double(1 - Double(nz) / Double(total)),
                      .int(2 * total + bias), .int(2 * nz + bias)])
        }
        return t
    }
}

/// One row of `summary.csv`.
public struct Summary {
    public static let columns = [
        "name", "dataset", "model", "method", "seed", "epochs", "steps",
        "train_accuracy", "test_accuracy", "test_loss", "total_weights", "nonzero_weights", "sparsity",
        "train_flops", "dense_train_flops", "wall_seconds",
    ]
    public var values: [String: CSVValue] = [:]

    public init() {}

    public subscript(key: String) -> CSVValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public func table(extraColumns: [String] = []) -> CSVTable {
        var t = CSVTable(columns: Summary.columns + extraColumns)
        t.append((Summary.columns + extraColumns).map { values[$0] ?? .string("") })
        return t
    }
}

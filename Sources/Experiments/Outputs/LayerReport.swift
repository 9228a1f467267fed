import Foundation
import TensorCore
import NN

/// The per-layer table of a model: weight shape, weights, nonzeros, sparsity, forward FLOPs per
/// sample.
///
/// FLOPs count a multiply-add as 2 (a convolution weight takes part in one per output
/// position) plus one add per bias and output; `sparse_flops` counts only nonzero weights (the
/// convention of Han et al. 2015, tables 1 and 2, which leave out the bias adds).
public enum LayerReport {
    public static let columns = ["layer", "shape", "weights", "nonzero", "sparsity", "dense_flops", "sparse_flops"]

    public static func table(_ model: Sequential) -> CSVTable {
        var t = CSVTable(columns: columns)
        for (layer, shape) in zip(model.leafLayers, model.leafInputShapes) {
            guard let w = layer.prunableWeight else { continue }
            let total = w.value.count
            let nz = w.value.nonzeroCount
            let reuse = layer.weightReuse(inputShape: shape)
            let dense = layer.forwardFLOPs(inputShape: shape, activeOnly: false)
            t.append([
                .string(layer.name), .string(w.value.shape.map(String.init).joined(separator: "x")),
                .int(total), .int(nz), .double(1 - Double(nz) / Double(total)),
                .int(dense), .int(dense - 2 * (total - nz) * reuse),
            ])
        }
        return t
    }
}

import Foundation
import TensorCore
import NN
import Training
import Pruning
import Datasets

/// Measured inference time of a model: the median wall time of one forward pass over a batch.
///
/// Runs on one BLAS thread (the usual deployment measure, and the least disturbed by other
/// processes on a shared machine), after `warmup` untimed passes; each timed repeat is one
/// forward pass of `batch` test images (cycling through the test set). The previous BLAS
/// thread count is restored afterwards.
public enum InferenceTiming {
    public static func medianMilliseconds(_ model: Sequential, images: Tensor, batch: Int,
                                          repeats: Int, warmup: Int = 3) -> Double {
        let n = images.rows, size = images.rowSize
        guard n > 0 else { return .nan }
        let b = min(batch, n)
        let sample = Array(images.shape.dropFirst())
        let saved = BLAS.threads
        BLAS.threads = 1
        defer { BLAS.threads = saved }
        var times: [Double] = []
        var start = 0
        for i in 0..<(warmup + max(1, repeats)) {
            if start + b > n { start = 0 }
            let x = Tensor(shape: [b] + sample, scalars: Array(images.scalars[(start * size)..<((start + b) * size)]))
            start += b
            let t0 = DispatchTime.now().uptimeNanoseconds
            let y = model.forward(x, training: false)
            let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            precondition(y.rows == b)
            if i >= warmup { times.append(t) }
        }
        return Statistics.median(times)
    }
}

/// The inference and compaction columns of `summary.csv`.
enum InferenceReport {
    static let batchOneRepeats = 200
    static let batchRepeats = 30

    /// `<prefix>infer_ms_b1` and `<prefix>infer_ms_b128`: median milliseconds per forward pass.
    static func measure(_ model: Sequential, data: DataSplit, into summary: inout Summary, prefix: String) throws -> [String] {
        let b1 = InferenceTiming.medianMilliseconds(model, images: data.test.images, batch: 1, repeats: batchOneRepeats)
        let b128 = InferenceTiming.medianMilliseconds(model, images: data.test.images, batch: 128, repeats: batchRepeats)
        summary["\(prefix)infer_ms_b1"] = .double(b1)
        summary["\(prefix)infer_ms_b128"] = .double(b128)
        return ["\(prefix)infer_ms_b1", "\(prefix)infer_ms_b128"]
    }

    /// Compacts the structurally pruned model, checks it against the masked one on the test
    /// set, writes `model-compact.h5` and `layers-compact.csv`, and reports its size, accuracy
    /// and inference time.
    static func compact(_ model: Sequential, config: ExperimentConfig, data: DataSplit, folder: RunFolder,
                        workers: Int, into summary: inout Summary) throws -> [String] {
        let result = Compaction.compact(model)
        let compact = result.model
        let probe = min(data.test.count, 1000)
        let x = Tensor(shape: [probe] + data.test.sampleShape,
                       scalars: Array(data.test.images.scalars[0..<(probe * data.test.sampleSize)]))
        let a = model.forward(x, training: false), b = compact.forward(x, training: false)
        var diff: Float = 0
        for i in 0..<a.count { diff = max(diff, abs(a.scalars[i] - b.scalars[i])) }
        let eval = Evaluation.run(compact, images: data.test.images, labels: data.test.labels, workers: workers)
        let specs = try compactSpecs(config: config.model, units: result.units)
        let specJSON = String(decoding: try JSONEncoder().encode(specs), as: UTF8.self)
        let configJSON = String(decoding: try ConfigLoader.canonicalJSON(config), as: UTF8.self)
        let file = folder.file("model-compact.h5")
        try ModelFiles.atomically(file) { path in
            try ModelFiles.writeDense(model: compact, configJSON: configJSON, path: path, attributes: [("layers", specJSON)])
        }
        try LayerReport.table(compact).write(to: folder.file("layers-compact.csv"))
        summary["compact_weights"] = .int(compact.weightCounts.total)
        summary["compact_bytes"] = .int(ModelFiles.fileSize(file))
        summary["compact_test_accuracy"] = .double(eval.accuracy)
        summary["compact_max_abs_diff"] = .double(Double(diff))
        summary["compact_flops"] = .int(compact.forwardFLOPs(activeOnly: false))
        summary["dense_flops"] = .int(model.forwardFLOPs(activeOnly: false))
        var columns = ["compact_weights", "compact_bytes", "compact_test_accuracy", "compact_max_abs_diff",
                       "dense_flops", "compact_flops"]
        columns += try measure(compact, data: data, into: &summary, prefix: "compact_")
        return columns
    }

    /// The layer list of the compacted model: the config's layers with each conv's `filters`
    /// and each dense layer's `units` set to what survived (the weighted layers, in order, are
    /// the conv and dense entries of the list, in order). Build a model from it (config
    /// `model.layers`) and load `model-compact.h5` through `model.init_file`.
    static func compactSpecs(config: ModelConfig, units: [(layer: String, before: Int, after: Int)]) throws -> [LayerSpec] {
        var specs = try ModelRegistry.layerSpecs(config)
        var next = units.makeIterator()
        for i in specs.indices {
            switch specs[i].type {
            case .conv: specs[i].filters = next.next()?.after
            case .dense: specs[i].units = next.next()?.after
            case .pool, .flatten: break
            }
        }
        return specs
    }
}

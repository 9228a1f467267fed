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
    public static func medianMilliseconds(
        _ model: Sequential, images: Tensor, batch: Int,
        repeats: Int, warmup: Int = 3
    ) -> Double {
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

/// The inference columns of `summary.csv`: median milliseconds of one forward pass over 1 and
/// 128 test images, on one thread.
enum InferenceReport {
    static let batchOneRepeats = 200
    static let batchRepeats = 30

    static func measure(_ model: Sequential, data: DataSplit) -> (b1: Double, b128: Double) {
        (
            InferenceTiming.medianMilliseconds(model, images: data.test.images, batch: 1, repeats: batchOneRepeats),
            InferenceTiming.medianMilliseconds(model, images: data.test.images, batch: 128, repeats: batchRepeats)
        )
    }
}

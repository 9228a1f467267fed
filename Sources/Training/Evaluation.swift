import TensorCore
import NN

/// Mean loss and accuracy of a model over a set, in batches, without touching gradients.
public struct Evaluation: Sendable, Equatable {
    public var loss: Double
    public var accuracy: Double
    public var count: Int

    public init(loss: Double, accuracy: Double, count: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.count = count
    }

    /// Evaluates in batches of `batchSize`; with `workers` > 1 the batches are shared among
    /// that many threads, each on its own replica of the model (BLAS should then run one
    /// thread per call). Per-batch results are summed in batch order, so the result is the
    /// same bit for bit whatever `workers` is.
    public static func run(
        _ model: Sequential, images: Tensor, labels: [Int], batchSize: Int = 1000,
        workers: Int = 1
    ) -> Evaluation {
        let n = labels.count
        guard n > 0 else { return Evaluation(loss: .nan, accuracy: .nan, count: 0) }
        let b = max(1, batchSize)
        let batches = (n + b - 1) / b
        let k = max(1, min(workers, batches))
        func evaluate(batch i: Int, on m: Sequential) -> (Double, Int) {
            let start = i * b, end = min(n, start + b)
            // a batch of rows of the set: a sparse first layer reads them in place
            let logits =
                start == 0 && end == n
                ? m.forward(images, training: false)
                : m.forward(gathering: RowGather(source: images, rows: start..<end), training: false)
            let r = m.loss.evaluate(logits: logits, labels: labels[start..<end], wantGradient: false)
            return (r.loss * Double(end - start), r.correct)
        }
        // Worker w takes batches w, w + k, ...; results are summed in batch order below.
        let perWorker = DataParallel(model: model, workers: k).run(parts: k) { w, m in
            stride(from: w, to: batches, by: k).map { evaluate(batch: $0, on: m) }
        }
        var results: [(Double, Int)] = []
        results.reserveCapacity(batches)
        for i in 0..<batches { results.append(perWorker[i % k][i / k]) }
        var totalLoss = 0.0, correct = 0
        for i in 0..<batches {
            totalLoss += results[i].0
            correct += results[i].1
        }
        return Evaluation(loss: totalLoss / Double(n), accuracy: Double(correct) / Double(n), count: n)
    }
}

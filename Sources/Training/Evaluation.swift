import TensorCore
import NN

/// Mean loss and accuracy of a model over a set, in batches, without touching gradients.
public struct Evaluation: Sendable, Equatable {
    public var loss: Double
    public var accuracy: Double
    public var count: Int

    public static func run(_ model: Sequential, images: Tensor, labels: [Int], batchSize: Int = 1000) -> Evaluation {
        let n = labels.count
        guard n > 0 else { return Evaluation(loss: .nan, accuracy: .nan, count: 0) }
        let size = images.rowSize
        let sampleShape = Array(images.shape.dropFirst())
        var totalLoss = 0.0
        var correct = 0
        var start = 0
        while start < n {
            let end = min(n, start + max(1, batchSize))
            let x: Tensor
            if start == 0 && end == n {
                x = images
            } else {
                x = Tensor(shape: [end - start] + sampleShape,
                           scalars: Array(images.scalars[(start * size)..<(end * size)]))
            }
            let logits = model.forward(x, training: false)
            let r = model.loss.evaluate(logits: logits, labels: labels[start..<end], wantGradient: false)
            totalLoss += r.loss * Double(end - start)
            correct += r.correct
            start = end
        }
        return Evaluation(loss: totalLoss / Double(n), accuracy: Double(correct) / Double(n), count: n)
    }
}

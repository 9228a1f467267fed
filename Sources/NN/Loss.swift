import TensorCore

#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

/// The output non-linearity fused with its loss, averaged over the batch.
///
/// `softmaxCrossEntropy`: logits `[B, C]`, `L = mean_b(logsumexp(z_b) - z_b[y_b])`,
/// `dL/dz = (softmax(z) - onehot(y)) / B`. `sigmoidBinaryCrossEntropy`: logits `[B, 1]`,
/// labels 0/1, `L = mean(max(z,0) - z*y + log(1 + e^-|z|))`, `dL/dz = (sigmoid(z) - y) / B`;
/// predicted class is `z > 0`.
public enum LossKind: String, Codable, CaseIterable, Sendable {
    case softmaxCrossEntropy = "softmax_cross_entropy"
    case sigmoidBinaryCrossEntropy = "sigmoid_bce"

    public struct Result {
        public var loss: Double
        public var correct: Int
        public var gradient: Tensor
    }

    /// Loss, count of correct predictions and (when `wantGradient`) dL/dlogits.
    public func evaluate(logits: Tensor, labels: ArraySlice<Int>, wantGradient: Bool) -> Result {
        let batch = logits.rows
        precondition(labels.count == batch, "\(batch) logits rows but \(labels.count) labels")
        var grad = wantGradient ? Tensor(shape: logits.shape) : Tensor(shape: [0])
        var total = 0.0
        var correct = 0
        let invB = 1 / Float(batch)
        let base = labels.startIndex
        switch self {
        case .softmaxCrossEntropy:
            let classes = logits.rowSize
            logits.scalars.withUnsafeBufferPointer { z in
                grad.scalars.withUnsafeMutableBufferPointer { g in
                    for r in 0..<batch {
                        let row = z.baseAddress! + r * classes
                        var maxV = row[0], arg = 0
                        for j in 1..<classes where row[j] > maxV { maxV = row[j]; arg = j }
                        var sum: Float = 0
                        for j in 0..<classes { sum += expf(row[j] - maxV) }
                        let y = labels[base + r]
                        total += Double(logf(sum) + maxV - row[y])
                        if arg == y { correct += 1 }
                        if wantGradient {
                            let grow = g.baseAddress! + r * classes
                            let inv = 1 / sum
                            for j in 0..<classes { grow[j] = expf(row[j] - maxV) * inv * invB }
                            grow[y] -= invB
                        }
                    }
                }
            }
        case .sigmoidBinaryCrossEntropy:
            precondition(logits.rowSize == 1, "sigmoid_bce needs one logit per sample, got \(logits.shape)")
            logits.scalars.withUnsafeBufferPointer { z in
                grad.scalars.withUnsafeMutableBufferPointer { g in
                    for r in 0..<batch {
                        let x = z[r]
                        let y = Float(labels[base + r])
                        total += Double(max(x, 0) - x * y + log1pf(expf(-abs(x))))
                        if (x > 0 ? 1 : 0) == labels[base + r] { correct += 1 }
                        if wantGradient { g[r] = (Activation.sigmoid(x) - y) * invB }
                    }
                }
            }
        }
        return Result(loss: total / Double(batch), correct: correct, gradient: grad)
    }

    /// Per-sample FLOPs of the loss and its gradient (for cost accounting).
    public func flops(outputs: Int) -> Int { 6 * outputs }
}

import TensorCore
import NN
import Training
import Pruning

/// Gradients on probe batches for criteria that need their own (SNIP at initialisation,
/// GraSP): batches of the training set's size drawn from the criterion's stream, run through
/// the trainer's data-parallel forward and backward without an optimizer step. Every
/// parameter's gradient is restored afterwards, so observers after the pruner still see the
/// step's own gradients.
final class GradientProbe: GradientSource {
    let trainer: Trainer
    let images: Tensor
    let labels: [Int]
    let batchSize: Int
    let pruned: [Parameter]

    init(trainer: Trainer, images: Tensor, labels: [Int], pruned: [Parameter]) {
        self.trainer = trainer
        self.images = images
        self.labels = labels
        batchSize = min(trainer.batcher.batchSize, labels.count)
        self.pruned = pruned
    }

    func probeBatches(_ count: Int, rng: inout RandomSource) -> [ProbeBatch] {
        (0..<count).map { _ in
            ProbeBatch(indices: Array(rng.permutation(labels.count).prefix(batchSize)))
        }
    }

    func gradients(on batches: [ProbeBatch]) -> [[Float]] {
        let all = trainer.model.parameters
        let saved = all.map(\.grad)
        defer { for (p, g) in zip(all, saved) { p.grad = g } }
        var sums = pruned.map { [Float](repeating: 0, count: $0.value.count) }
        let size = images.rowSize, shape = Array(images.shape.dropFirst())
        for b in batches {
            var x = [Float]()
            x.reserveCapacity(b.indices.count * size)
            for i in b.indices { x += images.scalars[(i * size)..<((i + 1) * size)] }
            let y = b.indices.map { labels[$0] }
            _ = trainer.computeGradients(Tensor(shape: [b.indices.count] + shape, scalars: x), y[...])
            for (k, p) in pruned.enumerated() {
                p.grad.scalars.withUnsafeBufferPointer { g in
                    for j in 0..<g.count { sums[k][j] += g[j] }
                }
            }
        }
        let scale = 1 / Float(max(1, batches.count))
        return sums.map { $0.map { $0 * scale } }
    }
}

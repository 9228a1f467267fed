import TensorCore

/// Seeded mini-batches over an in-memory set.
///
/// Each epoch draws a fresh permutation from its own generator (when `shuffle`), and batches
/// are copied row by row into a contiguous `[B, sample...]` tensor. The last batch may be
/// smaller. A batch size of 0 or >= the set size means full-batch (no shuffling needed).
/// Lives in `Training`, not `Datasets`, because data order is a training concern and the
/// loop must not depend on file formats.
public struct Batcher {
    public let images: Tensor
    public let labels: [Int]
    public let batchSize: Int
    public let shuffle: Bool
    private var rng: RandomSource
    /// Per-sample crop and flip applied to every training batch (nil: batches as stored).
    public var augmentation: Augmentation?

    public init(images: Tensor, labels: [Int], batchSize: Int, shuffle: Bool, rng: RandomSource) {
        precondition(images.rows == labels.count, "\(images.rows) images but \(labels.count) labels")
        precondition(!labels.isEmpty, "a Batcher needs at least one sample (data loading rejects empty training sets)")
        self.images = images
        self.labels = labels
        self.batchSize = (batchSize <= 0 || batchSize >= labels.count) ? labels.count : batchSize
        self.shuffle = shuffle && self.batchSize < labels.count
        self.rng = rng
    }

    public var count: Int { labels.count }
    public var batchesPerEpoch: Int { (count + batchSize - 1) / batchSize }
    public var isFullBatch: Bool { batchSize == count }

    /// The state of the order generator (for checkpoints, which are taken between epochs).
    public var rngState: RandomSource {
        get { rng }
        set { rng = newValue }
    }

    /// The sample order of the next epoch.
    public mutating func nextEpochOrder() -> [Int] {
        shuffle ? rng.permutation(count) : Array(0..<count)
    }

    /// The batch of `order[range]`, copied and augmented (advancing the augmentation's
    /// generator by one draw set per sample, in batch order).
    public mutating func augmentedBatch(order: [Int], range: Range<Int>) -> Tensor {
        var x = rows(0, of: 1, order: order, range: range).materialize()
        augmentation?.apply(to: &x)
        return x
    }

    /// The batch made of `order[range]`; a full-batch in natural order reuses the set as is.
    public func batch(order: [Int], range: Range<Int>) -> (images: Tensor, labels: ArraySlice<Int>) {
        if range.count == count && !shuffle {
            return (images, labels[...])
        }
        let (parts, y) = batchParts(order: order, range: range, parts: 1)
        return (parts[0], y)
    }

    /// The batch of `order[range]` split into `parts` contiguous tensors (part `i` holds rows
    /// `bounds[i]..<bounds[i+1]` of `Batcher.bounds`), each gathered straight from the set, so
    /// data-parallel workers get their rows without a second copy of the batch.
    public func batchParts(order: [Int], range: Range<Int>, parts k: Int) -> (parts: [Tensor], labels: ArraySlice<Int>) {
        ((0..<k).map { part($0, of: k, order: order, range: range) }, labels(order: order, range: range))
    }

    /// The labels of `order[range]`, in batch order.
    public func labels(order: [Int], range: Range<Int>) -> ArraySlice<Int> {
        range.map { labels[order[$0]] }[...]
    }

    /// Part `i` of `k` of the batch `order[range]` (rows `bounds[i]..<bounds[i+1]`), gathered
    /// from the set; safe to call for different parts on different threads at once (it only
    /// reads the set), so each data-parallel worker gathers its own rows.
    public func part(_ i: Int, of k: Int, order: [Int], range: Range<Int>) -> Tensor {
        rows(i, of: k, order: order, range: range).materialize()
    }

    /// The rows of part `i` of `k` of the batch `order[range]`, not yet copied (a sparse first
    /// layer gathers them itself).
    public func rows(_ i: Int, of k: Int, order: [Int], range: Range<Int>) -> RowGather {
        let bounds = Batcher.bounds(range.count, parts: k)
        let lo = range.lowerBound
        return RowGather(source: images, rows: order[(lo + bounds[i])..<(lo + bounds[i + 1])])
    }

    /// Row bounds of `n` rows split into `k` contiguous parts: part `i` is `b[i]..<b[i+1]`.
    public static func bounds(_ n: Int, parts k: Int) -> [Int] { (0...k).map { $0 * n / k } }
}

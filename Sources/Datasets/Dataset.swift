import TensorCore

/// A labelled image classification set held in memory.
///
/// `images` is `[N, C, H, W]` (channels first) with pixels scaled to [0, 1]; a dense model
/// flattens each sample to `C*H*W` values in that order. `labels[i]` is in `0..<classCount`.
public struct Dataset: Sendable {
    public var name: String
    public var images: Tensor
    public var labels: [Int]
    public var classCount: Int

    public init(name: String, images: Tensor, labels: [Int], classCount: Int) {
        precondition(images.rank >= 2, "images need a leading sample dimension, got \(images.shape)")
        precondition(
            images.shape[0] == labels.count,
            "\(name): \(images.shape[0]) images but \(labels.count) labels")
        self.name = name
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }

    public var count: Int { labels.count }
    /// Per-sample shape, `[C, H, W]`.
    public var sampleShape: [Int] { Array(images.shape.dropFirst()) }
    /// Values per sample.
    public var sampleSize: Int { images.rowSize }

    /// The first `n` samples (all when `n` is 0 or larger than the set).
    public func prefix(_ n: Int) -> Dataset {
        guard n > 0, n < count else { return self }
        let size = sampleSize
        let shape = [n] + sampleShape
        return Dataset(
            name: name,
            images: Tensor(shape: shape, scalars: Array(images.scalars[0..<(n * size)])),
            labels: Array(labels[0..<n]), classCount: classCount)
    }
}

/// A train/test pair, loaded together so their sample shapes and class counts agree.
public struct DataSplit: Sendable {
    public var train: Dataset
    public var test: Dataset
    /// The standardisation applied to both sets after loading (`data.normalize`), which new
    /// inputs need too; nil when the values are as the reader returned them.
    public var normalization: Normalization?
    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }
}

/// Bad or unreadable data: names the file (and dataset or field) and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

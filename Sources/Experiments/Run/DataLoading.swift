import Schema
import Datasets

extension DataConfig {
    /// Loads the train/test split this config names, applying limits, the class count and
    /// `normalize`.
    public func load() throws -> DataSplit {
        var split = try loadFormat()
        if classes > 0 {
            for (set, file) in [(split.train, "train"), (split.test, "test")] {
                if let i = set.labels.firstIndex(where: { $0 >= classes }) {
                    throw ConfigError(
                        path: "data.classes", "the \(file) set has label \(set.labels[i]) at sample \(i), outside 0..<\(classes)")
                }
            }
            split.train.classCount = classes
            split.test.classCount = classes
        }
        split.train = split.train.prefix(trainLimit)
        split.test = split.test.prefix(testLimit)
        // An empty split would "complete" with NaN accuracies: refuse it instead.
        let source = usesFiles ? (trainFile ?? "") : (dir ?? ".")
        if split.train.count == 0 { throw ConfigError(path: "data", "the training set is empty", file: source) }
        if split.test.count == 0 {
            throw ConfigError(path: "data", "the test set is empty", file: usesFiles ? (testFile ?? source) : source)
        }
        if let n = try normalization(for: split.train) {
            split.train = n.applied(to: split.train)
            split.test = n.applied(to: split.test)
            split.normalization = n
        }
        return split
    }

    /// Whether the format reads `train_file`/`test_file` (else `dir`).
    var usesFiles: Bool { format == .hdf5 || format == .npz }

    /// The split as the format's reader returns it.
    func loadFormat() throws -> DataSplit {
        let keys = HDF5ImageSet.Keys(xTrain: xTrain, yTrain: yTrain, xTest: xTest, yTest: yTest)
        let classCount = classes > 0 ? classes : nil
        switch format {
        case .idx:
            return try MNISTLoader.load(directory: dir ?? ".")
        case .cifar10:
            return try CIFAR10Reader.load(directory: dir ?? ".")
        case .hdf5:
            return try HDF5ImageSet.load(trainFile: trainFile ?? "", testFile: testFile, keys: keys, classCount: classCount)
        case .npy:
            return try ArrayImageSet.loadNPY(directory: dir ?? ".", keys: keys, layout: try declaredLayout(), classCount: classCount)
        case .npz:
            return try ArrayImageSet.loadNPZ(
                trainFile: trainFile ?? "", testFile: testFile, keys: keys, layout: try declaredLayout(), classCount: classCount)
        case .images:
            return try ImageFolderSet.load(directory: dir ?? ".", size: imageSize, channels: channels)
        }
    }

    /// `layout`, which the array formats require (`validate` checks it; never guessed).
    func declaredLayout() throws -> ArrayImageSet.Layout {
        guard let layout else { throw ConfigError(path: "data.layout", "required when data.format is \"\(format.rawValue)\"") }
        return layout
    }

    /// The per-channel standardisation `normalize` asks for, fitted to `train` for `"train"`
    /// (nil for `"none"`); a channel count or a zero std that does not fit is a one-line error.
    public func normalization(for train: Dataset) throws -> Normalization? {
        let channels = train.sampleShape.first ?? 1
        switch normalize {
        case .none:
            return nil
        case .given(let mean, let std):
            guard mean.count == channels else {
                throw ConfigError(path: "data.normalize", "gives \(mean.count) means and stds but the inputs have \(channels) channel(s)")
            }
            return Normalization(mean: mean, std: std)
        case .train:
            let n = Normalization.fitted(to: train)
            if let c = n.std.firstIndex(where: { !($0 > 0) }) {
                throw ConfigError(path: "data.normalize", "channel \(c) has standard deviation 0 in the training set; nothing to scale by")
            }
            return n
        }
    }
}

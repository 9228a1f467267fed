import Schema
import Datasets

extension DataConfig {
    /// Loads the train/test split this config names, applying limits and the class count.
    public func load() throws -> DataSplit {
        var split: DataSplit
        switch format {
        case .idx:
            split = try MNISTLoader.load(directory: dir ?? ".")
        case .cifar10:
            split = try CIFAR10Reader.load(directory: dir ?? ".")
        case .hdf5:
            let keys = HDF5ImageSet.Keys(xTrain: xTrain, yTrain: yTrain, xTest: xTest, yTest: yTest)
            split = try HDF5ImageSet.load(
                trainFile: trainFile ?? "", testFile: testFile, keys: keys,
                classCount: classes > 0 ? classes : nil)
        }
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
        let source = format == .hdf5 ? (trainFile ?? "") : (dir ?? ".")
        if split.train.count == 0 { throw ConfigError(path: "data", "the training set is empty", file: source) }
        if split.test.count == 0 {
            throw ConfigError(path: "data", "the test set is empty", file: format == .hdf5 ? (testFile ?? source) : source)
        }
        return split
    }
}

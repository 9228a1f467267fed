import Foundation
import Schema

/// Where the images come from.
///
/// `format` `idx`: `dir` holds the four MNIST-format files (gzip or raw, canonical or dotted
/// names). `format` `hdf5`: `train_file` holds `x_train`/`y_train` and `test_file` (default:
/// the same file) holds `x_test`/`y_test`. Relative paths in a config file are taken from the
/// file's folder; given with `--set`, from the current directory (`ConfigLoader`). `format`
/// `cifar10`: `dir` is the unpacked `cifar-10-batches-bin` folder (`CIFAR10Reader`).
public struct DataConfig: ConfigSection {
    public enum Format: String, Codable, Sendable, CaseIterable { case idx, hdf5, cifar10 }
    /// One line per format, for `prunelab list formats`.
    public static let formatHelp: [Format: String] = [
        .idx: "MNIST-format IDX files (idx3 images, idx1 labels), raw or gzip, canonical or dotted names (MNIST, Fashion-MNIST)",
        .hdf5: "an HDF5 image set: image and label datasets for train and test (carvnocar.h5, the cat-vs-non-cat course files)",
        .cifar10:
            "CIFAR-10's binary batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin) from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ]
    public static let keyHelp: [(key: String, help: String)] = [
        ("format", "`idx` (MNIST-format files, raw or gzip), `hdf5` (an image set such as carvnocar.h5) or `cifar10`; required"),
        (
            "dir",
            "`idx`: folder with `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-…` (or the dotted names); `cifar10`: the unpacked `cifar-10-batches-bin` folder"
        ),
        ("train_file", "`hdf5`: file holding the training images and labels"),
        ("test_file", "`hdf5`: file holding the test set (absent: `train_file`)"),
        ("x_train", "`hdf5` dataset of training images, `(N, H, W, C)` or `(N, H, W)`, any numeric type"),
        ("y_train", "`hdf5` dataset of training labels, `(N)`, `(1, N)` or `(N, 1)`"),
        ("x_test", "`hdf5` dataset of test images"),
        ("y_test", "`hdf5` dataset of test labels"),
        ("train_limit", "use only the first N training samples (0: all)"),
        ("test_limit", "use only the first N test samples (0: all)"),
        ("classes", "number of classes (0: 10 for IDX; max label + 1, at least 2, for HDF5); a label outside is an error"),
    ]
    public var format: Format
    public var dir: String?
    public var trainFile: String?
    public var testFile: String?
    public var xTrain: String
    public var yTrain: String
    public var xTest: String
    public var yTest: String
    /// Use only the first N samples (0: all).
    public var trainLimit: Int
    public var testLimit: Int
    /// Number of classes; 0 infers it (10 for IDX, max label + 1 but at least 2 for HDF5).
    public var classes: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, dir
        case trainFile = "train_file", testFile = "test_file"
        case xTrain = "x_train", yTrain = "y_train", xTest = "x_test", yTest = "y_test"
        case trainLimit = "train_limit", testLimit = "test_limit", classes
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.required(.format)
        dir = try c.value(.dir, default: nil)
        trainFile = try c.value(.trainFile, default: nil)
        testFile = try c.value(.testFile, default: nil)
        xTrain = try c.value(.xTrain, default: "X_train")
        yTrain = try c.value(.yTrain, default: "y_train")
        xTest = try c.value(.xTest, default: "X_test")
        yTest = try c.value(.yTest, default: "y_test")
        trainLimit = try c.value(.trainLimit, default: 0)
        testLimit = try c.value(.testLimit, default: 0)
        classes = try c.value(.classes, default: 0)
    }

    public func validate(at path: String = "data") throws {
        switch format {
        case .idx, .cifar10:
            guard dir != nil else { throw ConfigError(path: "data.dir", "required when data.format is \"\(format.rawValue)\"") }
        case .hdf5:
            guard trainFile != nil else { throw ConfigError(path: "data.train_file", "required when data.format is \"hdf5\"") }
        }
        if trainLimit < 0 { throw ConfigError(path: "data.train_limit", "must be >= 0, got \(trainLimit)") }
        if testLimit < 0 { throw ConfigError(path: "data.test_limit", "must be >= 0, got \(testLimit)") }
        if classes < 0 || classes == 1 { throw ConfigError(path: "data.classes", "must be 0 (infer) or >= 2, got \(classes)") }
    }

    /// A short name for summaries: the IDX folder or the HDF5 train file, without extension.
    public var displayName: String {
        let path = (format == .hdf5 ? trainFile : dir) ?? "data"
        let last = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return last
    }
}

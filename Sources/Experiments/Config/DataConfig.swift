import Datasets
import Foundation
import Schema

/// Where the images come from.
///
/// `format` `idx`: `dir` holds the four MNIST-format files (gzip or raw, canonical or dotted
/// names). `format` `hdf5`: `train_file` holds `x_train`/`y_train` and `test_file` (default:
/// the same file) holds `x_test`/`y_test`. Relative paths in a config file are taken from the
/// file's folder; given with `--set`, from the current directory (`ConfigLoader`). `format`
/// `cifar10`: `dir` is the unpacked `cifar-10-batches-bin` folder (`CIFAR10Reader`). `npy`:
/// `dir` holds `<x_train>.npy`, `<y_train>.npy`, `<x_test>.npy`, `<y_test>.npy`; `npz`: archives
/// like `hdf5`'s files, with arrays of those names (`ArrayImageSet`, axes as `layout` declares).
/// `images`: `dir/train/<class>/*.png|jpg` and `dir/test/<class>/...` (`ImageFolderSet`).
/// `normalize` standardises every channel; `augment` crops and flips training batches.
public struct DataConfig: ConfigSection {
    public enum Format: String, Codable, Sendable, CaseIterable { case idx, hdf5, cifar10, npy, npz, images }
    /// One line per format, for `prunelab list formats`.
    public static let formatHelp: [Format: String] = [
        .idx: "MNIST-format IDX files (idx3 images, idx1 labels), raw or gzip, canonical or dotted names (MNIST, Fashion-MNIST)",
        .hdf5: "an HDF5 image set: image and label datasets for train and test (carvnocar.h5, the cat-vs-non-cat course files)",
        .cifar10:
            "CIFAR-10's binary batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin) from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        .npy: "NumPy .npy files (numpy.save), images and labels for train and test, in one folder",
        .npz: "NumPy .npz archives (numpy.savez, savez_compressed) holding the image and label arrays",
        .images: "folders of JPEG and PNG files, one subfolder per class (torchvision's ImageFolder), for train and test",
    ]
    public static let keyHelp: [(key: String, help: String)] = [
        (
            "format",
            "`idx` (MNIST-format files, raw or gzip), `hdf5` (an image set such as carvnocar.h5), `cifar10`, `npy`, `npz` (NumPy arrays) or `images` (class folders of JPEG/PNG files); required"
        ),
        (
            "dir",
            "`idx`: folder with `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-…` (or the dotted names); `cifar10`: the unpacked `cifar-10-batches-bin` folder; `npy`: folder of the four `.npy` files; `images`: folder holding `train/<class>/` and `test/<class>/` (class index: sorted folder names)"
        ),
        ("train_file", "`hdf5`, `npz`: file holding the training images and labels"),
        ("test_file", "`hdf5`, `npz`: file holding the test set (absent: `train_file`)"),
        (
            "x_train",
            "`hdf5` dataset, `npz` array or `npy` file name (`.npy` added) of training images: `hdf5` `(N, H, W, C)` or `(N, H, W)`; `npy`/`npz` as `layout` says; any integer (pixel bytes, / 255) or float (taken as they are) type"
        ),
        ("y_train", "training labels (same places): `(N)`, `(1, N)` or `(N, 1)`, integers"),
        ("x_test", "test images (same places)"),
        ("y_test", "test labels (same places)"),
        ("layout", "`npy`, `npz`: axes of the image arrays, `nhwc`, `nchw` or `nhw` (one channel); required for these formats"),
        (
            "image_size",
            "`images`: `[H, W]` every image is resized to (area averaging when shrinking, bilinear when enlarging, as `prunelab predict`); absent: all images must share one size"
        ),
        (
            "channels",
            "`images`: 1 (grey, ITU-R 601-2 luma) or 3 (RGB) channels every image is converted to; absent: all images must have the same"
        ),
        (
            "normalize",
            "`\"none\"`; `\"train\"`: per channel (x − mean) / std with the training set's mean and population std (after `train_limit`); or `{\"mean\": [...], \"std\": [...]}`, one value per channel; applied to train and test inputs (and by `prunelab predict`)"
        ),
        ("augment", "random crop and flip of each training batch, see `data.augment`"),
        ("train_limit", "use only the first N training samples (0: all)"),
        ("test_limit", "use only the first N test samples (0: all)"),
        (
            "classes",
            "number of classes (0: 10 for IDX and CIFAR-10; max label + 1, at least 2, for HDF5, npy and npz; the number of class folders, at least 2, for images); a label outside is an error"
        ),
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
    public var layout: ArrayImageSet.Layout?
    public var imageSize: [Int]?
    public var channels: Int?
    public var normalize: NormalizeSetting
    public var augment: AugmentConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, dir
        case trainFile = "train_file", testFile = "test_file"
        case xTrain = "x_train", yTrain = "y_train", xTest = "x_test", yTest = "y_test"
        case trainLimit = "train_limit", testLimit = "test_limit", classes
        case layout, imageSize = "image_size", channels, normalize, augment
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
        layout = c.contains(.layout) ? try c.required(.layout) as ArrayImageSet.Layout : nil
        imageSize = try c.value(.imageSize, default: nil)
        channels = try c.value(.channels, default: nil)
        normalize = try c.value(.normalize, default: .none)
        augment = try c.value(.augment, default: try AugmentConfig.defaults())
    }

    public func validate(at path: String = "data") throws {
        switch format {
        case .idx, .cifar10:
            guard dir != nil else { throw ConfigError(path: "data.dir", "required when data.format is \"\(format.rawValue)\"") }
        case .hdf5, .npz:
            guard trainFile != nil else {
                throw ConfigError(path: "data.train_file", "required when data.format is \"\(format.rawValue)\"")
            }
        case .npy, .images:
            guard dir != nil else { throw ConfigError(path: "data.dir", "required when data.format is \"\(format.rawValue)\"") }
        }
        try validateFormatKeys()
        try normalize.validate(at: "data.normalize")
        try augment.validate(at: "data.augment")
        if trainLimit < 0 { throw ConfigError(path: "data.train_limit", "must be >= 0, got \(trainLimit)") }
        if testLimit < 0 { throw ConfigError(path: "data.test_limit", "must be >= 0, got \(testLimit)") }
        if classes < 0 || classes == 1 { throw ConfigError(path: "data.classes", "must be 0 (infer) or >= 2, got \(classes)") }
    }

    /// `layout` for the array formats only; `image_size` and `channels` for `images` only.
    func validateFormatKeys() throws {
        let arrays = format == .npy || format == .npz
        if arrays && layout == nil {
            throw ConfigError(path: "data.layout", "required when data.format is \"\(format.rawValue)\": nhwc, nchw or nhw")
        }
        if !arrays && layout != nil { throw ConfigError(path: "data.layout", "only for data.format npy or npz") }
        if format != .images {
            if imageSize != nil { throw ConfigError(path: "data.image_size", "only for data.format images") }
            if channels != nil { throw ConfigError(path: "data.channels", "only for data.format images") }
        }
        if let size = imageSize, size.count != 2 || size.contains(where: { $0 < 1 }) {
            throw ConfigError(path: "data.image_size", "must be [H, W] with H, W >= 1, got \(size)")
        }
        if let c = channels, c != 1 && c != 3 { throw ConfigError(path: "data.channels", "must be 1 or 3, got \(c)") }
    }

    /// A short name for summaries: the IDX folder or the HDF5 train file, without extension.
    public var displayName: String {
        let path = ((format == .hdf5 || format == .npz) ? trainFile : dir) ?? "data"
        let last = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return last
    }
}

extension ArrayImageSet.Layout: Codable {}

/// `data.normalize`: none, the training set's per-channel statistics, or given ones.
public enum NormalizeSetting: Codable, Equatable, Sendable {
    case none
    case train
    case given(mean: [Double], std: [Double])

    enum CodingKeys: String, CodingKey, CaseIterable { case mean, std }

    public init(from decoder: Decoder) throws {
        if let c = try? decoder.singleValueContainer(), let s = try? c.decode(String.self) {
            switch s {
            case "none": self = .none
            case "train": self = .train
            default:
                throw ConfigError(
                    path: jsonPath(decoder.codingPath), "must be \"none\", \"train\" or {\"mean\": [...], \"std\": [...]}; got \"\(s)\"")
            }
            return
        }
        guard (try? decoder.container(keyedBy: AnyKey.self)) != nil else {
            throw ConfigError(path: jsonPath(decoder.codingPath), "must be \"none\", \"train\" or {\"mean\": [...], \"std\": [...]}")
        }
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = .given(mean: try c.required(.mean), std: try c.required(.std))
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .none:
            var c = encoder.singleValueContainer()
            try c.encode("none")
        case .train:
            var c = encoder.singleValueContainer()
            try c.encode("train")
        case .given(let mean, let std):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(mean, forKey: .mean)
            try c.encode(std, forKey: .std)
        }
    }

    func validate(at path: String) throws {
        guard case .given(let mean, let std) = self else { return }
        if mean.isEmpty || mean.count != std.count {
            throw ConfigError(path: path, "needs one mean and one std per channel, got \(mean.count) and \(std.count)")
        }
        if let bad = mean.first(where: { !$0.isFinite }) { throw ConfigError(path: child(path, "mean"), "must be finite, got \(bad)") }
        if let bad = std.first(where: { !($0 > 0 && $0.isFinite) }) {
            throw ConfigError(path: child(path, "std"), "must be > 0 and finite, got \(bad)")
        }
    }
}

/// `data.augment`: random crop with zero padding and horizontal flip of training batches.
public struct AugmentConfig: ConfigSection {
    public var enabled: Bool
    public var pad: Int
    public var flip: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, pad, flip }

    public static let keyHelp: [(key: String, help: String)] = [
        (
            "enabled",
            "crop and flip every training sample on the fly, from the stream `seed ▶ \"augment\"` (checkpointed); test data and evaluations are never augmented"
        ),
        ("pad", "zeros added on each side before a random crop back to the original H x W (0: no crop)"),
        ("flip", "mirror left-right with probability 0.5"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: false)
        pad = try c.value(.pad, default: 4)
        flip = try c.value(.flip, default: true)
    }

    public func validate(at path: String) throws {
        if pad < 0 { throw ConfigError(path: child(path, "pad"), "must be >= 0, got \(pad)") }
    }
}

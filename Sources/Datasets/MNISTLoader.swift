import Foundation
import TensorCore

/// Loads MNIST (or Fashion-MNIST, same format) from a folder of four IDX files.
///
/// Each file is looked up under, in order: the canonical gzip name (`train-images-idx3-ubyte.gz`,
/// `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`), the
/// same without `.gz`, the dotted name (`train-images.idx3-ubyte`, ...), and the dotted name with
/// `.gz`; the first that exists is read, gzip detected by content.
///
/// - Images: IDX uint8 `(N, H, W)`, become a `[N, 1, H, W]` tensor divided by 255 (so in [0, 1]).
/// - Labels: IDX integer `(N)`, each in `0..<10`; `classCount` is 10.
/// - Images and labels of a set agree in N; train and test agree in `(H, W)`; N, H, W > 0.
///
/// Failures are `DatasetError`s, one line naming the file (or the folder, for a missing file,
/// with the names tried) and, for a bad label, the sample index.
public enum MNISTLoader {
    /// Number of classes of MNIST and Fashion-MNIST.
    public static let classCount = 10

    /// The four files of a split, by role.
    public enum Part: String, CaseIterable, Sendable {
        case trainImages = "train-images-idx3-ubyte"
        case trainLabels = "train-labels-idx1-ubyte"
        case testImages = "t10k-images-idx3-ubyte"
        case testLabels = "t10k-labels-idx1-ubyte"

        /// File names tried, in order: canonical `.gz`, canonical, dotted, dotted `.gz`.
        public var candidateNames: [String] {
            let canonical = rawValue
            // "train-images-idx3-ubyte" -> "train-images.idx3-ubyte"
            var dotted = canonical
            if let r = canonical.range(of: "-idx", options: .backwards) {
                dotted.replaceSubrange(r, with: ".idx")
            }
            return [canonical + ".gz", canonical, dotted, dotted + ".gz"]
        }

        var role: String {
            switch self {
            case .trainImages: return "train images"
            case .trainLabels: return "train labels"
            case .testImages: return "test images"
            case .testLabels: return "test labels"
            }
        }
    }

    /// Loads the train set (60000 samples for MNIST) and test set (10000) from `directory`.
    public static func load(directory: String) throws -> DataSplit {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DatasetError(file: directory, "no such directory")
        }
        guard isDirectory.boolValue else { throw DatasetError(file: directory, "not a directory") }
        let setName = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
        let train = try loadSet(
            images: locate(.trainImages, in: directory),
            labels: locate(.trainLabels, in: directory), name: setName + ":train")
        let test = try loadSet(
            images: locate(.testImages, in: directory),
            labels: locate(.testLabels, in: directory), name: setName + ":test")
        guard train.sampleShape == test.sampleShape else {
            func size(_ set: Dataset) -> String { set.sampleShape.dropFirst().map(String.init).joined(separator: "x") }
            throw DatasetError(file: directory, "train images are \(size(train)) but test images are \(size(test))")
        }
        return DataSplit(train: train, test: test)
    }

    /// Path of the first existing candidate file for `part` in `directory`.
    public static func locate(_ part: Part, in directory: String) throws -> String {
        let names = part.candidateNames
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return path
            }
        }
        throw DatasetError(file: directory, "no \(part.role) file; tried \(names.joined(separator: ", "))")
    }

    /// Loads one set from an images file `(N, H, W)` uint8 and a labels file `(N)` in `0..<10`.
    public static func loadSet(images imagesPath: String, labels labelsPath: String, name: String) throws -> Dataset {
        let labelArray = try IDXReader.read(file: labelsPath)
        guard labelArray.rank == 1 else {
            throw DatasetError(file: labelsPath, "labels must have rank 1 (N), got shape \(labelArray.shape)")
        }
        guard let labels = labelArray.integerValues() else {
            throw DatasetError(file: labelsPath, "labels must be an integer type, got \(labelArray.type)")
        }
        if let i = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DatasetError(file: labelsPath, "label \(labels[i]) at sample \(i) is outside 0..<\(classCount)")
        }

        let imageArray = try IDXReader.read(file: imagesPath)
        guard imageArray.rank == 3 else {
            throw DatasetError(file: imagesPath, "images must have rank 3 (N, H, W), got shape \(imageArray.shape)")
        }
        let (n, h, w) = (imageArray.shape[0], imageArray.shape[1], imageArray.shape[2])
        guard n > 0, h > 0, w > 0 else {
            throw DatasetError(file: imagesPath, "images have an empty dimension: shape \(imageArray.shape)")
        }
        guard n == labels.count else {
            throw DatasetError(file: imagesPath, "images \(n) vs labels \(labels.count) in \(labelsPath)")
        }
        guard let pixels = imageArray.unitScaledFloats() else {
            throw DatasetError(file: imagesPath, "images must be uint8 (type byte 0x08), got \(imageArray.type)")
        }
        return Dataset(
            name: name, images: Tensor(shape: [n, 1, h, w], scalars: pixels),
            labels: labels, classCount: classCount)
    }
}

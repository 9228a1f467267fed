import Foundation
import HDF5Support
import TensorCore

/// Loads an image classification split stored as four HDF5 datasets: train/test images and labels.
///
/// Two layouts are covered by `Keys`: one file holding `X_train`, `y_train`, `X_test`, `y_test`
/// (carvnocar.h5, the default keys), or a train file and a test file (`Keys.catvnoncat`:
/// `train_catvnoncat.h5` holds `train_set_x`/`train_set_y`, `test_catvnoncat.h5` holds
/// `test_set_x`/`test_set_y`).
///
/// - Images are `(N, H, W, C)` or `(N, H, W)` (read as `C = 1`), channels last, of any integer
///   or float type. They become a `[N, C, H, W]` tensor (channels first). Scaling rule: integer
///   types are pixel bytes, divided by 255, and must lie in 0...255; float types are taken as
///   they are (z-scored inputs stay z-scored) and must be finite.
/// - Labels are `(N)`, `(1, N)` or `(N, 1)` of any integer or float type, and must be whole
///   numbers >= 0. `classCount` defaults to `max(2, largest train or test label + 1)`; when it is
///   given, a label >= `classCount` is an error naming the file, dataset and sample index.
/// - Train and test samples must have the same `(H, W, C)`; the train set holds at least one sample.
///
/// Failures are `HDF5Error` (file unreadable, not HDF5, non-numeric data) or `DatasetError`
/// (missing dataset, listing the ones present; count mismatch; bad label; wrong rank; differing
/// sample shapes), each one line naming the file and dataset.
public enum HDF5ImageSet {
    /// The names of the four datasets.
    public struct Keys: Equatable, Sendable {
        public var xTrain: String
        public var yTrain: String
        public var xTest: String
        public var yTest: String

        /// Defaults are the carvnocar.h5 names: `X_train`, `y_train`, `X_test`, `y_test`.
        public init(
            xTrain: String = "X_train", yTrain: String = "y_train",
            xTest: String = "X_test", yTest: String = "y_test"
        ) {
            self.xTrain = xTrain
            self.yTrain = yTrain
            self.xTest = xTest
            self.yTest = yTest
        }

        /// The cat-vs-non-cat names: `train_set_x`, `train_set_y`, `test_set_x`, `test_set_y`.
        public static let catvnoncat = Keys(
            xTrain: "train_set_x", yTrain: "train_set_y",
            xTest: "test_set_x", yTest: "test_set_y")
    }

    /// Loads the train set from `trainFile` and the test set from `testFile` (default: `trainFile`).
    ///
    /// `classCount`, when given, must be >= 1 and bounds every label; see the type's documentation
    /// for layouts and scaling.
    public static func load(
        trainFile: String, testFile: String? = nil, keys: Keys = Keys(),
        classCount: Int? = nil
    ) throws -> DataSplit {
        if let classCount { precondition(classCount >= 1, "classCount must be >= 1, got \(classCount)") }
        let trainHDF5 = try HDF5File(path: trainFile)
        let testHDF5 = try testFile.map { try HDF5File(path: $0) } ?? trainHDF5

        // Check names and shapes of both halves before reading any pixels.
        let train = try Part.inspect(trainHDF5, images: keys.xTrain, labels: keys.yTrain)
        guard train.count > 0 else {
            throw DatasetError(file: trainFile, "dataset '\(keys.xTrain)' holds 0 samples; training needs at least one")
        }
        let test = try Part.inspect(testHDF5, images: keys.xTest, labels: keys.yTest)
        guard train.sampleShapeHWC == test.sampleShapeHWC else {
            throw DatasetError(
                file: test.file.path,
                "dataset '\(test.imagesKey)' has samples (H,W,C) \(test.sampleShapeHWC) but "
                    + "train dataset '\(train.imagesKey)' in \(train.file.path) has \(train.sampleShapeHWC)")
        }

        let trainLabels = try train.readLabels(classCount: classCount)
        let testLabels = try test.readLabels(classCount: classCount)
        let largest = (trainLabels + testLabels).max() ?? 0
        let classes = classCount ?? max(2, largest + 1)
        return DataSplit(
            train: Dataset(
                name: train.name, images: try train.readImages(), labels: trainLabels,
                classCount: classes),
            test: Dataset(
                name: test.name, images: try test.readImages(), labels: testLabels,
                classCount: classes))
    }

    /// One half of the split: an images dataset and a labels dataset in one file, shapes checked.
    private struct Part {
        let file: HDF5File
        let imagesKey: String
        let labelsKey: String
        /// `(N, H, W, C)` as stored, with `C = 1` added for rank-3 images.
        let imageShape: [Int]

        var sampleShapeHWC: [Int] { Array(imageShape.dropFirst()) }
        var count: Int { imageShape[0] }
        var name: String {
            URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent + ":" + imagesKey
        }

        private func error(_ key: String, _ message: String) -> DatasetError {
            DatasetError(file: file.path, "dataset '\(key)' \(message)")
        }

        /// Checks both datasets exist and that their ranks and sample counts fit together.
        static func inspect(_ file: HDF5File, images: String, labels: String) throws -> Part {
            for key in [images, labels] where !file.hasDataset(key) {
                let present = try file.datasetNames()
                let list = present.isEmpty ? "the file has no datasets" : "datasets: " + present.joined(separator: ", ")
                throw DatasetError(file: file.path, "no dataset '\(key)' (\(list))")
            }
            var imageShape = try file.shape(of: images)
            if imageShape.count == 3 { imageShape.append(1) }
            guard imageShape.count == 4 else {
                throw DatasetError(
                    file: file.path,
                    "dataset '\(images)' has shape \(imageShape); "
                        + "expected images (N,H,W,C) or (N,H,W)")
            }
            guard imageShape.dropFirst().allSatisfy({ $0 > 0 }) else {
                throw DatasetError(file: file.path, "dataset '\(images)' has empty samples, shape \(imageShape)")
            }
            let part = Part(file: file, imagesKey: images, labelsKey: labels, imageShape: imageShape)
            let labelCount = try part.labelCount(try file.shape(of: labels))
            guard labelCount == part.count else {
                throw part.error(labels, "has \(labelCount) labels but dataset '\(images)' has \(part.count) images")
            }
            return part
        }

        /// The number of labels in a `(N)`, `(1, N)` or `(N, 1)` labels dataset.
        private func labelCount(_ shape: [Int]) throws -> Int {
            switch shape.count {
            case 1: return shape[0]
            case 2 where shape[0] == 1 || shape[1] == 1: return shape[0] * shape[1]
            default: throw error(labelsKey, "has shape \(shape); expected labels (N), (1,N) or (N,1)")
            }
        }

        /// A whole-number label for a message: `-3`, or `-1e+300` and `inf` where `Int` cannot
        /// hold it (found by fuzzing: `Int(-1e300)` traps).
        static func whole(_ value: Double) -> String {
            abs(value) < 0x1p62 ? String(Int(value)) : "\(value)"
        }

        /// The labels as whole numbers in `0..<classCount` (any size below 2^31 when not given).
        func readLabels(classCount: Int?) throws -> [Int] {
            let raw = try file.readDoubles(labelsKey).values
            var labels = [Int]()
            labels.reserveCapacity(raw.count)
            for (index, value) in raw.enumerated() {
                guard value.rounded() == value else {
                    throw error(labelsKey, "has label \(value) at sample \(index); labels must be whole numbers")
                }
                guard value >= 0 else {
                    throw error(labelsKey, "has negative label \(Part.whole(value)) at sample \(index)")
                }
                if let classCount, value >= Double(classCount) {
                    throw error(labelsKey, "has label \(Part.whole(value)) at sample \(index), outside 0..<\(classCount)")
                }
                guard value < 0x1p31 else {
                    throw error(labelsKey, "has label \(value) at sample \(index), too large for a class index")
                }
                labels.append(Int(value))
            }
            return labels
        }

        /// The images as `[N, C, H, W]`, scaled by the rule in `HDF5ImageSet`'s documentation.
        func readImages() throws -> Tensor {
            let stored = try file.storedType(of: imagesKey)
            let raw = try file.readFloats(imagesKey).values
            let (n, h, w, c) = (imageShape[0], imageShape[1], imageShape[2], imageShape[3])
            var isFloat = false
            if case .float = stored { isFloat = true }
            let limit: Float = isFloat ? .greatestFiniteMagnitude : 255
            let divisor: Float = isFloat ? 1 : 255
            let sampleSize = h * w * c
            var out = [Float](repeating: 0, count: raw.count)
            var bad: (value: Float, index: Int)? = nil
            raw.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count where !(src[i] >= (isFloat ? -limit : 0) && src[i] <= limit) {
                        bad = (src[i], i)
                        return
                    }
                    for s in 0..<n {
                        let base = s * sampleSize
                        for y in 0..<h {
                            for x in 0..<w {
                                let from = base + (y * w + x) * c
                                for ch in 0..<c {
                                    dst[base + (ch * h + y) * w + x] = src[from + ch] / divisor
                                }
                            }
                        }
                    }
                }
            }
            if let bad {
                let rule = isFloat ? "not finite" : "outside 0...255 for stored type \(stored)"
                throw error(imagesKey, "has pixel value \(bad.value) at sample \(bad.index / sampleSize), \(rule)")
            }
            return Tensor(shape: [n, c, h, w], scalars: out)
        }
    }
}

import Foundation
import TensorCore

/// Loads an image classification split from NumPy arrays: `.npy` files in a folder
/// (`numpy.save`) or members of `.npz` archives (`numpy.savez`, `numpy.savez_compressed`).
///
/// - Images are laid out as `layout` declares: `nhw` (rank 3, one channel), `nhwc` or `nchw`
///   (rank 4), C order, any float or integer type (`NumpyArray`). They become `[N, C, H, W]`.
///   Float types are taken as they are (z-scored inputs stay z-scored); they must be finite.
///   Integer types are pixel bytes: divided by 255, and a value outside 0...255 is an error.
/// - Labels are `(N)`, `(N, 1)` or `(1, N)` of an integer type, or of a float type holding
///   whole numbers, all >= 0. `classCount` defaults to `max(2, largest label + 1)`; when given,
///   a label >= `classCount` is an error.
/// - Train and test samples must have the same shape; the train set holds at least one sample.
///
/// Every error is a `DatasetError` naming the file and the array: a missing array lists the
/// ones present (`data/x.npz: no array 'labels' (has: x, y)`).
public enum ArrayImageSet {
    /// How the image array's axes are ordered.
    public enum Layout: String, Sendable, CaseIterable {
        case nhw, nhwc, nchw

        var rank: Int { self == .nhw ? 3 : 4 }
        var axes: String { self == .nhw ? "(N, H, W)" : self == .nhwc ? "(N, H, W, C)" : "(N, C, H, W)" }
    }

    /// Where one array lives: a `.npy` file, or a member of an `.npz` archive.
    struct Source {
        let file: String
        let array: String?
        var label: String { array.map { "array '\($0)'" } ?? "array" }
        func error(_ message: String) -> DatasetError { DatasetError(file: file, "\(label) \(message)") }
    }

    /// Loads `dir/<keys.xTrain>.npy`, `dir/<keys.yTrain>.npy` and the test pair (".npy" is added
    /// to a name without it).
    public static func loadNPY(
        directory: String, keys: HDF5ImageSet.Keys, layout: Layout, classCount: Int? = nil
    ) throws -> DataSplit {
        func read(_ name: String) throws -> (NumpyArray, Source) {
            let path = (directory as NSString).appendingPathComponent(name.hasSuffix(".npy") ? name : name + ".npy")
            return (try NumpyArray.parse(try Gzip.readRaw(path), file: path), Source(file: path, array: nil))
        }
        return try assemble(
            train: (try read(keys.xTrain), try read(keys.yTrain)), test: (try read(keys.xTest), try read(keys.yTest)),
            layout: layout, classCount: classCount)
    }

    /// Loads the train arrays from the archive `trainFile` and the test arrays from `testFile`
    /// (default: `trainFile`).
    public static func loadNPZ(
        trainFile: String, testFile: String?, keys: HDF5ImageSet.Keys, layout: Layout, classCount: Int? = nil
    ) throws -> DataSplit {
        let trainArchive = try NPZFile(path: trainFile)
        let testArchive = try testFile.map { try NPZFile(path: $0) } ?? trainArchive
        return try assemble(
            train: (try trainArchive.array(keys.xTrain), try trainArchive.array(keys.yTrain)),
            test: (try testArchive.array(keys.xTest), try testArchive.array(keys.yTest)),
            layout: layout, classCount: classCount)
    }

    typealias Pair = (images: (NumpyArray, Source), labels: (NumpyArray, Source))

    static func assemble(train: Pair, test: Pair, layout: Layout, classCount: Int?) throws -> DataSplit {
        let trainImages = try images(train.images.0, train.images.1, layout: layout)
        let testImages = try images(test.images.0, test.images.1, layout: layout)
        guard trainImages.rows > 0 else { throw train.images.1.error("holds 0 samples; training needs at least one") }
        guard Array(trainImages.shape.dropFirst()) == Array(testImages.shape.dropFirst()) else {
            throw test.images.1.error(
                "has samples (C,H,W) \(Array(testImages.shape.dropFirst())) but the training \(train.images.1.label) "
                    + "in \(train.images.1.file) has \(Array(trainImages.shape.dropFirst()))")
        }
        let trainLabels = try labels(
            train.labels.0, train.labels.1, count: trainImages.rows, images: train.images.1, classCount: classCount)
        let testLabels = try labels(test.labels.0, test.labels.1, count: testImages.rows, images: test.images.1, classCount: classCount)
        let classes = classCount ?? max(2, (trainLabels + testLabels).max().map { $0 + 1 } ?? 2)
        func name(_ s: Source) -> String {
            URL(fileURLWithPath: s.file).deletingPathExtension().lastPathComponent + (s.array.map { ":" + $0 } ?? "")
        }
        return DataSplit(
            train: Dataset(name: name(train.images.1), images: trainImages, labels: trainLabels, classCount: classes),
            test: Dataset(name: name(test.images.1), images: testImages, labels: testLabels, classCount: classes))
    }

    /// The image array as `[N, C, H, W]`, scaled by the rule in the type's documentation.
    static func images(_ a: NumpyArray, _ source: Source, layout: Layout) throws -> Tensor {
        guard a.shape.count == layout.rank else {
            throw source.error(
                "has shape \(a.shape); layout '\(layout.rawValue)' needs rank \(layout.rank) \(layout.axes) (data.layout)")
        }
        guard a.shape.dropFirst().allSatisfy({ $0 > 0 }) else { throw source.error("has empty samples, shape \(a.shape)") }
        let s = a.shape
        let (n, c, h, w) = layout == .nhw ? (s[0], 1, s[1], s[2]) : layout == .nhwc ? (s[0], s[3], s[1], s[2]) : (s[0], s[1], s[2], s[3])
        var values = a.floats()
        let sample = c * h * w
        if let bad = values.firstIndex(where: { a.isInteger ? !($0 >= 0 && $0 <= 255) : !$0.isFinite }) {
            let what = a.isInteger ? "outside 0...255 for integer type \(a.descr) (store floats to take values as they are)" : "not finite"
            throw source.error("has value \(a.doubles()[bad]) at sample \(bad / sample), \(what)")
        }
        if a.isInteger { values = values.map { $0 / 255 } }
        if layout == .nhwc && c > 1 { values = channelsFirst(values, n: n, h: h, w: w, c: c) }
        return Tensor(shape: [n, c, h, w], scalars: values)
    }

    /// `[N, H, W, C]` values reordered to `[N, C, H, W]`.
    static func channelsFirst(_ src: [Float], n: Int, h: Int, w: Int, c: Int) -> [Float] {
        var out = [Float](repeating: 0, count: src.count)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    let base = i * h * w * c
                    for p in 0..<(h * w) {
                        for ch in 0..<c { d[base + ch * h * w + p] = s[base + p * c + ch] }
                    }
                }
            }
        }
        return out
    }

    /// The labels as class indices, checked against the image count and `classCount`.
    static func labels(_ a: NumpyArray, _ source: Source, count: Int, images: Source, classCount: Int?) throws -> [Int] {
        let s = a.shape
        guard s.count == 1 || (s.count == 2 && (s[0] == 1 || s[1] == 1)) else {
            throw source.error("has shape \(s); expected labels (N), (N, 1) or (1, N)")
        }
        guard a.count == count else {
            throw source.error(
                "has \(a.count) labels but \(images.file == source.file ? images.label : images.file) has \(count) images")
        }
        var out: [Int] = []
        out.reserveCapacity(count)
        for (i, v) in a.doubles().enumerated() {
            guard v.rounded() == v else {
                throw source.error("has label \(v) at sample \(i); labels must be integers (dtype \(a.descr))")
            }
            guard v >= 0, v < 0x1p31 else { throw source.error("has label \(v) at sample \(i), not a class index >= 0") }
            if let classCount, Int(v) >= classCount {
                throw source.error("has label \(Int(v)) at sample \(i), outside 0..<\(classCount)")
            }
            out.append(Int(v))
        }
        return out
    }
}

/// An `.npz` archive: its members by array name (the member name without `.npy`).
public struct NPZFile {
    let path: String
    let zip: ZipArchive

    init(path: String) throws {
        self.path = path
        zip = try ZipArchive(try Gzip.readRaw(path), file: path)
    }

    /// The archive held in `bytes` (`path` names it in errors): its directory is read, no member yet.
    public init(bytes: [UInt8], path: String) throws {
        self.path = path
        zip = try ZipArchive(bytes, file: path)
    }

    /// Every member parsed as an array, in directory order.
    public func arrays() throws -> [(name: String, array: NumpyArray)] {
        try names.map { ($0, try array($0).0) }
    }

    public var names: [String] { zip.members.map { $0.name.hasSuffix(".npy") ? String($0.name.dropLast(4)) : $0.name } }

    func array(_ name: String) throws -> (NumpyArray, ArrayImageSet.Source) {
        guard let i = names.firstIndex(of: name) else {
            let list = names.isEmpty ? "the archive is empty" : "has: " + names.joined(separator: ", ")
            throw DatasetError(file: path, "no array '\(name)' (\(list))")
        }
        let array = try NumpyArray.parse(try zip.contents(of: zip.members[i]), file: path, array: name)
        return (array, ArrayImageSet.Source(file: path, array: name))
    }
}

import Foundation
import TensorCore

/// CIFAR-10's binary version (Krizhevsky 2009; `cifar-10-binary.tar.gz` from
/// https://www.cs.toronto.edu/~kriz/cifar.html, unpacked to `cifar-10-batches-bin/`).
///
/// The folder holds `data_batch_1.bin` … `data_batch_5.bin` (the 50,000 training images) and
/// `test_batch.bin` (10,000). Each file is a run of 3073-byte records: one label byte in
/// `0...9`, then the 32x32 image as 1024 red, 1024 green and 1024 blue bytes, each plane row
/// by row. Records become `[N, 3, 32, 32]` (that is the record's own order, channels first)
/// scaled by 1/255. Errors are `DatasetError`s naming the file: a missing file (with where to
/// get the data set), an empty file, a truncated last record, a label above 9 (with the record).
public enum CIFAR10Reader {
    public static let classCount = 10
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFile = "test_batch.bin"
    public static let side = 32
    public static let recordSize = 1 + 3 * 32 * 32
    public static let source = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

    /// Loads the five training batches (in order) and the test batch from `directory`.
    public static func load(directory: String) throws -> DataSplit {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(
                file: directory, "no such directory; CIFAR-10 is at \(source) (unpack it, then point data.dir at cifar-10-batches-bin)")
        }
        let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
        let train = try trainFiles.map { try readBatch(path: path(directory, $0)) }
        let test = try readBatch(path: path(directory, testFile))
        return DataSplit(
            train: dataset(train.flatMap(\.pixels), train.flatMap(\.labels), name: name + ":train"),
            test: dataset(test.pixels, test.labels, name: name + ":test"))
    }

    static func path(_ directory: String, _ file: String) -> String { (directory as NSString).appendingPathComponent(file) }

    static func dataset(_ pixels: [Float], _ labels: [Int], name: String) -> Dataset {
        Dataset(name: name, images: Tensor(shape: [labels.count, 3, side, side], scalars: pixels), labels: labels, classCount: classCount)
    }

    /// The records of one batch file: pixels in record order scaled by 1/255, and labels.
    public static func readBatch(path: String) throws -> (pixels: [Float], labels: [Int]) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(file: path, "no such file; CIFAR-10's binary batches are at \(source)")
        }
        let bytes = try Gzip.readRaw(path)
        guard !bytes.isEmpty else { throw DatasetError(file: path, "empty file; expected records of \(recordSize) bytes") }
        let n = bytes.count / recordSize, rest = bytes.count % recordSize
        guard rest == 0 else {
            throw DatasetError(
                file: path,
                "truncated: \(bytes.count) bytes is \(n) records of \(recordSize) and \(rest) bytes of record \(n) (label byte + 3072 pixels)"
            )
        }
        var labels = [Int](repeating: 0, count: n)
        var pixels = [Float](repeating: 0, count: n * (recordSize - 1))
        try bytes.withUnsafeBufferPointer { b in
            try pixels.withUnsafeMutableBufferPointer { p in
                for r in 0..<n {
                    let label = Int(b[r * recordSize])
                    guard label < classCount else {
                        throw DatasetError(file: path, "record \(r) has label \(label), outside 0...9")
                    }
                    labels[r] = label
                    let src = r * recordSize + 1, dst = r * (recordSize - 1)
                    for i in 0..<(recordSize - 1) { p[dst + i] = Float(b[src + i]) / 255 }
                }
            }
        }
        return (pixels, labels)
    }
}

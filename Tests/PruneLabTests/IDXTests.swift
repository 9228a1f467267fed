import CZlib
import Foundation
import Testing
import TensorCore
@testable import Datasets

/// Hand-built IDX bytes and a gzip writer (zlib's gzwrite, not our inflate path) for the tests.
enum IDXFixture {
    /// IDX bytes: two zero bytes, `type`, the dimension count, big-endian sizes, then `payload`.
    static func idx(type: UInt8, dims: [UInt32], payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24), UInt8((d >> 16) & 0xff), UInt8((d >> 8) & 0xff), UInt8(d & 0xff)] }
        return out + payload
    }

    /// A fresh empty folder under the system temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("prunelab-idx-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    struct ZlibFailure: Error { var what: String }

    /// Writes `bytes` gzip-compressed with zlib's gzopen/gzwrite.
    static func writeGzip(_ bytes: [UInt8], to path: String) throws {
        guard let file = gzopen(path, "wb9") else { throw ZlibFailure(what: "gzopen \(path)") }
        let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        let closed = gzclose(file)
        guard written == Int32(bytes.count) || bytes.isEmpty, closed == Z_OK else {
            throw ZlibFailure(what: "gzwrite \(path): wrote \(written), close \(closed)")
        }
    }

    /// The gzip bytes zlib's gzwrite makes for `bytes`.
    static func gzipBytes(_ bytes: [UInt8]) throws -> [UInt8] {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.gz"
        try writeGzip(bytes, to: path)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Reads a (possibly gzip) file with zlib's gzopen/gzread, independently of `Gzip`.
    static func gzread(_ path: String) throws -> [UInt8] {
        guard let file = gzopen(path, "rb") else { throw ZlibFailure(what: "gzopen \(path)") }
        defer { gzclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { CZlib.gzread(file, $0.baseAddress, UInt32($0.count)) }
            guard n >= 0 else { throw ZlibFailure(what: "gzread \(path)") }
            if n == 0 { return out }
            out += chunk[0..<Int(n)]
        }
    }

    /// Error text of `body`'s `DatasetError`, or nil when it threw none.
    static func datasetError(_ body: () throws -> Void) -> DatasetError? {
        do { try body() } catch let e as DatasetError { return e } catch { return nil }
        return nil
    }
}

@Suite struct IDXReaderTests {
    @Test func parsesUInt8Matrix() throws {
        let bytes = IDXFixture.idx(type: 0x08, dims: [2, 3], payload: [0, 1, 2, 127, 254, 255])
        let a = try IDXReader.parse(bytes, file: "m")
        #expect(a.shape == [2, 3])
        #expect(a.type == .uint8)
        #expect(a.count == 6)
        #expect(a.integerValues() == [0, 1, 2, 127, 254, 255])
        #expect(a.floatValues() == [0, 1, 2, 127, 254, 255])
        let scaled = try #require(a.unitScaledFloats())
        #expect(scaled == [0, Float(1) / 255, Float(2) / 255, Float(127) / 255, Float(254) / 255, 1])
    }

    @Test func parsesSignedAndFloatTypes() throws {
        let int8 = try IDXReader.parse(IDXFixture.idx(type: 0x09, dims: [3], payload: [0x00, 0x7f, 0x80]), file: "i8")
        #expect(int8.integerValues() == [0, 127, -128])

        let int16 = try IDXReader.parse(
            IDXFixture.idx(type: 0x0B, dims: [2], payload: [0x01, 0x02, 0xff, 0xfe]),
            file: "i16")
        #expect(int16.integerValues() == [258, -2])

        let int32Bytes: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]
        let int32 = try IDXReader.parse(IDXFixture.idx(type: 0x0C, dims: [1, 2], payload: int32Bytes), file: "i32")
        #expect(int32.shape == [1, 2])
        #expect(int32.integerValues() == [65536, -1])
        #expect(int32.unitScaledFloats() == nil)

        // 1.5 = 0x3FC00000, -2 = 0xC0000000 (float32); 0.25 = 0x3FD0000000000000 (float64).
        let f32 = try IDXReader.parse(
            IDXFixture.idx(
                type: 0x0D, dims: [2],
                payload: [0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0]), file: "f32")
        #expect(f32.floatValues() == [1.5, -2])
        #expect(f32.integerValues() == nil)
        let f64 = try IDXReader.parse(
            IDXFixture.idx(type: 0x0E, dims: [1], payload: [0x3f, 0xd0, 0, 0, 0, 0, 0, 0]),
            file: "f64")
        #expect(f64.floatValues() == [0.25])
    }

    @Test func rejectsWrongMagic() {
        var bytes = IDXFixture.idx(type: 0x08, dims: [1], payload: [7])
        bytes[1] = 0x01
        let e = IDXFixture.datasetError { _ = try IDXReader.parse(bytes, file: "bad.idx") }
        #expect(e?.file == "bad.idx")
        #expect(e?.message.contains("magic starts with 0x00 0x01, expected 0x00 0x00") == true)
        #expect(
            IDXFixture.datasetError { _ = try IDXReader.parse([0, 0, 8], file: "short") }?
                .message.contains("shorter than the 4-byte magic") == true)
    }

    @Test func rejectsUnknownTypeByte() {
        let bytes = IDXFixture.idx(type: 0x0A, dims: [1], payload: [7])
        let e = IDXFixture.datasetError { _ = try IDXReader.parse(bytes, file: "t.idx") }
        #expect(e?.message.contains("unknown IDX element type byte 0x0A") == true)
    }

    @Test func rejectsZeroDimensionsAndShortHeader() {
        let none = IDXFixture.datasetError { _ = try IDXReader.parse([0, 0, 8, 0], file: "z") }
        #expect(none?.message == "IDX header declares 0 dimensions")
        let short = IDXFixture.datasetError { _ = try IDXReader.parse([0, 0, 8, 2, 0, 0, 0, 1, 0, 0], file: "h") }
        #expect(short?.message == "truncated IDX header: 2 dimensions need 12 header bytes, file has 10")
    }

    @Test func rejectsTruncatedData() {
        let bytes = IDXFixture.idx(type: 0x08, dims: [2, 3], payload: [1, 2, 3, 4, 5])
        let e = IDXFixture.datasetError { _ = try IDXReader.parse(bytes, file: "cut.idx") }
        #expect(
            e
                == DatasetError(
                    file: "cut.idx",
                    "truncated IDX data: shape [2, 3] of uint8 needs 6 data bytes, file has 5"))
        let wide = IDXFixture.idx(type: 0x0C, dims: [2], payload: [0, 0, 0, 1, 0, 0])
        #expect(
            IDXFixture.datasetError { _ = try IDXReader.parse(wide, file: "w") }?
                .message == "truncated IDX data: shape [2] of int32 needs 8 data bytes, file has 6")
    }

    @Test func rejectsTrailingBytes() {
        let bytes = IDXFixture.idx(type: 0x08, dims: [2], payload: [1, 2, 3, 4])
        let e = IDXFixture.datasetError { _ = try IDXReader.parse(bytes, file: "long.idx") }
        #expect(e == DatasetError(file: "long.idx", "2 trailing bytes after the 2 data bytes of shape [2] of uint8"))
    }

    @Test func rejectsOverflowingShape() {
        let bytes = IDXFixture.idx(type: 0x0E, dims: [0xffff_ffff, 0xffff_ffff, 0xffff_ffff], payload: [])
        #expect(
            IDXFixture.datasetError { _ = try IDXReader.parse(bytes, file: "huge") }?
                .message.contains("too large") == true)
    }
}

@Suite struct GzipTests {
    /// Deterministic bytes that compress somewhat (a small-alphabet LCG stream).
    static func sample(_ n: Int, seed: UInt32 = 1) -> [UInt8] {
        var x = seed
        return (0..<n).map { _ in
            x = x &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: x >> 24) & 0x3f
        }
    }

    @Test func rawFilesPassThrough() throws {
        let dir = try IDXFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = IDXFixture.idx(type: 0x08, dims: [3], payload: [9, 8, 7])
        try IDXFixture.write(bytes, to: dir + "/a.gz")  // the name does not matter, the content does
        #expect(try Gzip.readFile(dir + "/a.gz") == bytes)
        try IDXFixture.write([], to: dir + "/empty")
        #expect(try Gzip.readFile(dir + "/empty") == [])
    }

    @Test func inflatesGzwriteOutputWhateverTheName() throws {
        let dir = try IDXFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let big = Self.sample(3_000_017)
        try IDXFixture.writeGzip(big, to: dir + "/plain-name")
        #expect(try Gzip.readFile(dir + "/plain-name") == big)
        try IDXFixture.writeGzip([], to: dir + "/empty.gz")
        #expect(try Gzip.readFile(dir + "/empty.gz") == [])
    }

    /// Members joined by `cat`; the size hint (the last member's ISIZE) is too small, so the output grows.
    @Test func inflatesConcatenatedMembers() throws {
        let a = Self.sample(200_000, seed: 3), b = Self.sample(10, seed: 4)
        let gz = try IDXFixture.gzipBytes(a) + IDXFixture.gzipBytes(b)
        #expect(try Gzip.inflate(gz, file: "cat.gz") == a + b)
    }

    @Test func truncatedStreamThrows() throws {
        let gz = try IDXFixture.gzipBytes(Self.sample(100_000))
        for keep in [gz.count - 1, gz.count - 8, gz.count / 2, 12] {
            let e = IDXFixture.datasetError { _ = try Gzip.inflate(Array(gz[0..<keep]), file: "cut.gz") }
            #expect(e?.file == "cut.gz")
            #expect(e?.message.hasPrefix("truncated gzip stream") == true, "keep \(keep): \(String(describing: e))")
        }
    }

    @Test func truncatedFileThrowsThroughReadFile() throws {
        let dir = try IDXFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gz = try IDXFixture.gzipBytes(IDXFixture.idx(type: 0x08, dims: [1000], payload: Self.sample(1000)))
        try IDXFixture.write(Array(gz.dropLast(20)), to: dir + "/t.idx.gz")
        let e = IDXFixture.datasetError { _ = try IDXReader.read(file: dir + "/t.idx.gz") }
        #expect(e?.file == dir + "/t.idx.gz")
        #expect(e?.message.hasPrefix("truncated gzip stream") == true)
    }

    @Test func corruptStreamThrows() throws {
        var gz = try IDXFixture.gzipBytes(Self.sample(50_000))
        gz[gz.count - 6] ^= 0xff  // inside the CRC-32 / ISIZE trailer
        let trailer = IDXFixture.datasetError { _ = try Gzip.inflate(gz, file: "crc.gz") }
        #expect(trailer?.message.hasPrefix("corrupt gzip data") == true, "\(String(describing: trailer))")

        var header = try IDXFixture.gzipBytes(Self.sample(100))
        header[2] = 0x07  // compression method must be 8 (deflate)
        let method = IDXFixture.datasetError { _ = try Gzip.inflate(header, file: "m.gz") }
        #expect(method?.message.hasPrefix("corrupt gzip data") == true)

        let junk = try IDXFixture.gzipBytes([1, 2, 3]) + [0x42, 0x42]
        let trailing = IDXFixture.datasetError { _ = try Gzip.inflate(junk, file: "j.gz") }
        #expect(trailing?.message == "2 bytes after the end of the gzip stream are not another gzip member")
    }

    @Test func missingFileThrows() {
        let path = "/nonexistent-prunelab/\(UUID().uuidString).gz"
        #expect(IDXFixture.datasetError { _ = try Gzip.readFile(path) } == DatasetError(file: path, "no such file"))
        #expect(IDXFixture.datasetError { _ = try IDXReader.read(file: path) } == DatasetError(file: path, "no such file"))
        #expect(IDXFixture.datasetError { _ = try Gzip.readFile("/tmp") }?.message == "not a regular file")
    }
}

@Suite struct MNISTLoaderTests {
    /// A tiny split: 3 train and 2 test images of 2x3 pixels.
    struct Tiny {
        var trainPixels: [UInt8] = (0..<18).map { UInt8($0 * 15) }
        var trainLabels: [UInt8] = [5, 0, 9]
        var testPixels: [UInt8] = [255, 0, 1, 2, 3, 4, 10, 20, 30, 40, 50, 60]
        var testLabels: [UInt8] = [1, 7]

        var files: [(MNISTLoader.Part, [UInt8])] {
            [
                (
                    .trainImages,
                    IDXFixture.idx(
                        type: 0x08, dims: [UInt32(trainPixels.count / 6), 2, 3],
                        payload: trainPixels)
                ),
                (.trainLabels, IDXFixture.idx(type: 0x08, dims: [UInt32(trainLabels.count)], payload: trainLabels)),
                (.testImages, IDXFixture.idx(type: 0x08, dims: [2, 2, 3], payload: testPixels)),
                (.testLabels, IDXFixture.idx(type: 0x08, dims: [UInt32(testLabels.count)], payload: testLabels)),
            ]
        }

        /// Writes the four files into a new folder; `nameIndex` picks from `Part.candidateNames`.
        func write(nameIndex: (MNISTLoader.Part) -> Int, gzip: (MNISTLoader.Part) -> Bool) throws -> String {
            let dir = try IDXFixture.temporaryDirectory()
            for (part, bytes) in files {
                let path = dir + "/" + part.candidateNames[nameIndex(part)]
                if gzip(part) {
                    try IDXFixture.writeGzip(bytes, to: path)
                } else {
                    try IDXFixture.write(bytes, to: path)
                }
            }
            return dir
        }

        func check(_ split: DataSplit) {
            #expect(split.train.images.shape == [3, 1, 2, 3])
            #expect(split.train.images.scalars == trainPixels.map { Float($0) / 255 })
            #expect(split.train.labels == [5, 0, 9])
            #expect(split.test.images.shape == [2, 1, 2, 3])
            #expect(split.test.images.scalars == testPixels.map { Float($0) / 255 })
            #expect(split.test.images.scalars[0] == 1)
            #expect(split.test.labels == [1, 7])
            #expect(split.train.classCount == 10 && split.test.classCount == 10)
            #expect(split.train.sampleShape == [1, 2, 3])
        }
    }

    @Test func candidateNames() {
        #expect(
            MNISTLoader.Part.trainImages.candidateNames == [
                "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte", "train-images.idx3-ubyte",
                "train-images.idx3-ubyte.gz",
            ])
        #expect(MNISTLoader.Part.testLabels.candidateNames[2] == "t10k-labels.idx1-ubyte")
    }

    @Test func loadsCanonicalGzipNames() throws {
        let tiny = Tiny()
        let dir = try tiny.write(nameIndex: { _ in 0 }, gzip: { _ in true })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let split = try MNISTLoader.load(directory: dir)
        tiny.check(split)
        #expect(split.train.name.hasSuffix(":train") && split.test.name.hasSuffix(":test"))
    }

    @Test func loadsCanonicalRawNames() throws {
        let tiny = Tiny()
        let dir = try tiny.write(nameIndex: { _ in 1 }, gzip: { _ in false })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        tiny.check(try MNISTLoader.load(directory: dir))
    }

    @Test func loadsDottedNamesRawAndGzip() throws {
        let tiny = Tiny()
        // Dotted raw names for images, dotted .gz names for labels.
        let dir = try tiny.write(
            nameIndex: { $0 == .trainImages || $0 == .testImages ? 2 : 3 },
            gzip: { $0 == .trainLabels || $0 == .testLabels })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        tiny.check(try MNISTLoader.load(directory: dir))
    }

    @Test func countMismatchThrows() throws {
        var tiny = Tiny()
        tiny.trainLabels = [5, 0]  // the images file still says 3
        let dir = try tiny.write(nameIndex: { _ in 0 }, gzip: { _ in false })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = IDXFixture.datasetError { _ = try MNISTLoader.load(directory: dir) }
        #expect(e?.file == dir + "/train-images-idx3-ubyte.gz")
        #expect(e?.message == "images 3 vs labels 2 in \(dir)/train-labels-idx1-ubyte.gz")
    }

    @Test func labelOutOfRangeThrows() throws {
        var tiny = Tiny()
        tiny.testLabels = [1, 10]
        let dir = try tiny.write(nameIndex: { _ in 1 }, gzip: { _ in true })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = IDXFixture.datasetError { _ = try MNISTLoader.load(directory: dir) }
        #expect(e == DatasetError(file: dir + "/t10k-labels-idx1-ubyte", "label 10 at sample 1 is outside 0..<10"))
    }

    @Test func missingFileNamesDirectoryAndCandidates() throws {
        let tiny = Tiny()
        let dir = try tiny.write(nameIndex: { _ in 0 }, gzip: { _ in false })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/t10k-images-idx3-ubyte.gz")
        let e = IDXFixture.datasetError { _ = try MNISTLoader.load(directory: dir) }
        #expect(
            e
                == DatasetError(
                    file: dir,
                    "no test images file; tried t10k-images-idx3-ubyte.gz, "
                        + "t10k-images-idx3-ubyte, "
                        + "t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz"))
        let nowhere = dir + "/absent"
        #expect(
            IDXFixture.datasetError { _ = try MNISTLoader.load(directory: nowhere) } == DatasetError(file: nowhere, "no such directory"))
    }

    @Test func wrongRanksAndTypesThrow() throws {
        let dir = try IDXFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = dir + "/i", labels = dir + "/l"
        try IDXFixture.write(IDXFixture.idx(type: 0x08, dims: [2], payload: [1, 2]), to: labels)

        let zeros = [UInt8](repeating: 0, count: 8)
        try IDXFixture.write(IDXFixture.idx(type: 0x08, dims: [2, 4], payload: zeros), to: images)
        #expect(
            IDXFixture.datasetError { _ = try MNISTLoader.loadSet(images: images, labels: labels, name: "x") }
                == DatasetError(file: images, "images must have rank 3 (N, H, W), got shape [2, 4]"))

        try IDXFixture.write(IDXFixture.idx(type: 0x0D, dims: [2, 1, 1], payload: zeros), to: images)
        #expect(
            IDXFixture.datasetError { _ = try MNISTLoader.loadSet(images: images, labels: labels, name: "x") }?
                .message == "images must be uint8 (type byte 0x08), got float32")

        try IDXFixture.write(IDXFixture.idx(type: 0x08, dims: [1, 2], payload: [1, 2]), to: labels)
        #expect(
            IDXFixture.datasetError { _ = try MNISTLoader.loadSet(images: images, labels: labels, name: "x") }
                == DatasetError(file: labels, "labels must have rank 1 (N), got shape [1, 2]"))
    }

    @Test func trainAndTestSampleShapesMustAgree() throws {
        var tiny = Tiny()
        tiny.testPixels = [UInt8](repeating: 3, count: 2 * 3 * 2)
        var files = tiny.files
        files[2].1 = IDXFixture.idx(type: 0x08, dims: [2, 3, 2], payload: tiny.testPixels)
        let dir = try IDXFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (part, bytes) in files { try IDXFixture.write(bytes, to: dir + "/" + part.candidateNames[1]) }
        #expect(
            IDXFixture.datasetError { _ = try MNISTLoader.load(directory: dir) }
                == DatasetError(file: dir, "train images are 2x3 but test images are 3x2"))
    }
}

/// The MNIST files shipped in `data/mnist`, checked against known facts and an independent parse.
@Suite struct MNISTRealDataTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data/mnist").path

    @Test func loadsFullMNIST() throws {
        let split = try MNISTLoader.load(directory: Self.directory)
        #expect(split.train.count == 60000)
        #expect(split.test.count == 10000)
        #expect(split.train.images.shape == [60000, 1, 28, 28])
        #expect(split.train.sampleShape == [1, 28, 28])
        #expect(split.test.sampleShape == [1, 28, 28])
        #expect(split.train.classCount == 10)

        // Known MNIST facts.
        #expect(Array(split.train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        var counts = [Int](repeating: 0, count: 10)
        for l in split.test.labels { counts[l] += 1 }
        #expect(counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])

        // Independent parse: zlib's gzread, fixed MNIST header sizes (8 bytes labels, 16 images).
        let trainLabels = try IDXFixture.gzread(Self.directory + "/train-labels-idx1-ubyte.gz")
        #expect(trainLabels.count == 8 + 60000)
        #expect(trainLabels.prefix(4) == [0, 0, 8, 1])
        let independent = trainLabels.dropFirst(8).map(Int.init)
        #expect(split.train.labels.prefix(100).reduce(0, +) == independent.prefix(100).reduce(0, +))
        #expect(split.train.labels == independent)

        let testImages = try IDXFixture.gzread(Self.directory + "/t10k-images-idx3-ubyte.gz")
        #expect(testImages.count == 16 + 10000 * 28 * 28)
        let pixels = testImages.dropFirst(16)
        let mismatch = zip(split.test.images.scalars, pixels).enumerated()
            .first { $0.element.0 != Float($0.element.1) / 255 }?.offset
        #expect(mismatch == nil)
        #expect(pixels.contains(0) && pixels.contains(255))
    }
}

import Testing
import Foundation
import Datasets
@testable import Experiments

/// The CIFAR-10 binary reader on batch files the test writes byte by byte: pixel layout,
/// labels, and the errors for a missing file, an empty or truncated file and a bad label.
@Suite struct CIFAR10Tests {
    /// Record `r` of file `f`: label `(f + r) % 10`, pixel byte `i` = `(i * 7 + r * 13 + f) % 256`.
    static func record(file f: Int, index r: Int, label: UInt8? = nil) -> [UInt8] {
        [label ?? UInt8((f + r) % 10)] + (0..<3072).map { UInt8(($0 * 7 + r * 13 + f) % 256) }
    }

    static func write(_ dir: URL, records: Int = 2, test: Int = 3, edit: (String, inout [UInt8]) -> Void = { _, _ in }) throws {
        let names = CIFAR10Reader.trainFiles + [CIFAR10Reader.testFile]
        for (f, name) in names.enumerated() {
            var bytes = (0..<(f < 5 ? records : test)).flatMap { record(file: f, index: $0) }
            edit(name, &bytes)
            try Data(bytes).write(to: dir.appendingPathComponent(name))
        }
    }

    @Test func readsRecordsAsChannelFirstImagesInFileOrder() throws {
        try withScratchFolder("cifar") { dir in
            try Self.write(dir)
            let split = try CIFAR10Reader.load(directory: dir.path)
            #expect(split.train.images.shape == [10, 3, 32, 32] && split.test.images.shape == [3, 3, 32, 32])
            #expect(split.train.classCount == 10)
            #expect(split.train.labels == (0..<10).map { ($0 / 2 + $0 % 2) % 10 })
            #expect(split.test.labels == [5, 6, 7])
            for n in [0, 3, 9] {
                let f = n / 2, r = n % 2
                for (c, y, x) in [(0, 0, 0), (1, 5, 31), (2, 31, 17)] {
                    let byte = (((c * 32 + y) * 32 + x) * 7 + r * 13 + f) % 256
                    let value = split.train.images.scalars[((n * 3 + c) * 32 + y) * 32 + x]
                    #expect(value == Float(byte) / 255, "image \(n) channel \(c) (\(y), \(x))")
                }
            }
            let config = try ConfigLoader.decode(
                Data(
                    #"{"data": {"format": "cifar10", "dir": "\#(dir.path)", "train_limit": 4}, "model": {"preset": "vgg11-cifar"}, "training": {"epochs": 1}}"#
                        .utf8))
            #expect(try config.data.load().train.count == 4)
        }
    }

    @Test func badBatchFilesAreOneLineErrorsNamingTheFile() throws {
        try withScratchFolder("cifar") { dir in
            try Self.write(dir) { name, bytes in if name == "data_batch_3.bin" { bytes += [1, 2, 3] } }
            let m = thrownMessage { _ = try CIFAR10Reader.load(directory: dir.path) } ?? ""
            #expect(m.contains("data_batch_3.bin") && m.contains("truncated") && m.contains("3 bytes of record 2"), "\(m)")
        }
        try withScratchFolder("cifar") { dir in
            try Self.write(dir) { name, bytes in if name == "test_batch.bin" { bytes[2 * 3073] = 10 } }
            let m = thrownMessage { _ = try CIFAR10Reader.load(directory: dir.path) } ?? ""
            #expect(m.contains("test_batch.bin") && m.contains("record 2 has label 10"), "\(m)")
        }
        try withScratchFolder("cifar") { dir in
            try Self.write(dir) { name, bytes in if name == "data_batch_1.bin" { bytes = [] } }
            let m = thrownMessage { _ = try CIFAR10Reader.load(directory: dir.path) } ?? ""
            #expect(m.contains("data_batch_1.bin: empty file"), "\(m)")
        }
        try withScratchFolder("cifar") { dir in
            try Self.write(dir)
            try FileManager.default.removeItem(at: dir.appendingPathComponent("test_batch.bin"))
            let m = thrownMessage { _ = try CIFAR10Reader.load(directory: dir.path) } ?? ""
            #expect(m.contains("\(dir.path)/test_batch.bin: no such file") && m.contains(CIFAR10Reader.source), "\(m)")
            let missing = dir.appendingPathComponent("nowhere").path
            #expect(thrownMessage { _ = try CIFAR10Reader.load(directory: missing) }?.hasPrefix("\(missing): no such directory") == true)
        }
    }
}

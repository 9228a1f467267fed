import Testing
import Foundation
import TensorCore
import NN
import HDF5Support
@testable import Experiments

/// Writing HDF5 files onto a full disk: `/dev/full` accepts `open(2)` and fails every
/// `write(2)` with ENOSPC, a true disk-full without mounting anything. With libhdf5's default
/// driver the failed flush left a half-closed file id that HDF5's exit handler closed again,
/// segfaulting the process after the error was printed; `experiments/disk_full.sh`
/// fills a real tmpfs during a run.
@Suite(.serialized) struct DiskFullTests {  // one /dev/full: HDF5 refuses to create a file name twice at once
    static let full = "/dev/full"

    @Test func closeOnAFullDiskThrowsOneLineNamingTheFile() throws {
        try #require(FileManager.default.fileExists(atPath: Self.full))
        let file = try HDF5File(creating: Self.full)
        try file.writeDataset("w", shape: [1000, 100], values: [Float](repeating: 1.5, count: 100_000))
        try file.setAttribute("format", "prunelab-dense-1")
        let message = thrownMessage { try file.close() }
        #expect(message?.hasPrefix("\(Self.full): cannot write") == true, "\(message ?? "")")
        #expect(message?.contains("No space left on device") == true, "\(message ?? "")")
        #expect(message?.contains("\n") == false)
        // the handle is gone: later calls throw, a second close does nothing, the library still works
        #expect(thrownMessage { _ = try file.shape(of: "w") } == "\(Self.full): file is closed")
        try file.close()
        try withScratchFolder("disk-full") { dir in
            let path = dir.appendingPathComponent("after.h5").path
            let ok = try HDF5File(creating: path)
            try ok.writeDataset("x", shape: [3], values: [Float](arrayLiteral: 1, 2, 3))
            try ok.close()
            #expect(try HDF5File(path: path).readFloats("x").values == [1, 2, 3])
        }
    }

    /// A file dropped on a full disk without `close()`: `deinit` must not crash either.
    @Test func droppedFileOnAFullDiskDoesNotCrash() throws {
        try #require(FileManager.default.fileExists(atPath: Self.full))
        for _ in 0..<3 {
            let file = try HDF5File(creating: Self.full)
            try file.writeDataset("w", shape: [50_000], values: [Float](repeating: 2, count: 50_000))
        }
    }

    @Test func modelFilesOnAFullDiskThrow() throws {
        try #require(FileManager.default.fileExists(atPath: Self.full))
        let model = Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 784, outputSize: 300), Activation(name: "relu1", kind: .relu),
                Dense(name: "fc2", inputSize: 300, outputSize: 10),
            ],
            inputShape: [784], loss: .softmaxCrossEntropy)
        let writers: [(Sequential, String, String) throws -> Void] = [
            { try ModelFiles.writeSparse(model: $0, configJSON: $1, path: $2) },
            { try ModelFiles.writeDense(model: $0, configJSON: $1, path: $2) },
        ]
        for write in writers {
            let message = thrownMessage { try write(model, "{}", Self.full) }
            #expect(message?.contains("No space left on device") == true, "\(message ?? "")")
        }
    }

    /// A file that is only dropped (no `close()`) is still written, as before the in-memory driver.
    @Test func droppedFileIsStillWritten() throws {
        try withScratchFolder("disk-full") { dir in
            let path = dir.appendingPathComponent("dropped.h5").path
            do {
                let file = try HDF5File(creating: path)
                try file.writeDataset("x", shape: [2], values: [Int32(7), 8])
            }
            #expect(try HDF5File(path: path).read("x", as: Int32.self).values == [7, 8])
        }
    }

    @Test func createInAMissingFolderFailsAtOnce() {
        let message = thrownMessage { _ = try HDF5File(creating: "/nonexistent-dir/x.h5") }
        #expect(message == "/nonexistent-dir/x.h5: cannot create: No such file or directory")
    }
}

import Testing
import Foundation
@testable import Experiments

/// A resumed streamed file follows its state on disk: a partial file continues at the
/// checkpoint's byte, a finished one is left as it is, a missing one is a one-line error.
@Suite struct StreamedFileTests {
    static func folder() throws -> (RunFolder, URL) {
        let dir = RunFolderTests.tempDir()
        let folder = RunFolder(path: dir.path)
        try folder.open(force: false)
        return (folder, dir)
    }

    static func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    @Test func freshFileIsPartialUntilCommitted() throws {
        let (folder, dir) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try StreamedFile(folder: folder, name: "t.csv", header: ["a", "b"])
        f.append("1,2\n")
        #expect(try f.flushedSize() == 8)
        #expect(StreamedFile.state(of: "t.csv", in: dir) == .partial(size: 8))
        try f.commit()
        #expect(f.isFinished)
        #expect(StreamedFile.state(of: "t.csv", in: dir) == .finished(size: 8))
        #expect(try Self.text(dir.appendingPathComponent("t.csv")) == "a,b\n1,2\n")
    }

    /// The partial file is cut back to the checkpoint's size and continued.
    @Test func partialFileContinuesAtTheCheckpointsByte() throws {
        let (folder, dir) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try StreamedFile(folder: folder, name: "t.csv", header: ["a"])
        f.append("1\n")
        let size = try f.flushedSize()
        f.append("2\n")  // written after the checkpoint: replayed by the resumed run
        try f.flush()
        f.close()
        let g = try StreamedFile(folder: folder, name: "t.csv", header: ["a"], start: .resume(checkpointSize: size))
        g.append("2\n3\n")
        try g.commit()
        #expect(try Self.text(dir.appendingPathComponent("t.csv")) == "a\n1\n2\n3\n")
        #expect(StreamedFile.state(of: "t.csv", in: dir) == .finished(size: 8))
    }

    /// A finished file is never removed or rewritten by a run resumed from a checkpoint; its
    /// appends and commit do nothing, and a checkpoint reads its size.
    @Test(arguments: [UInt64(4), 6])
    func finishedFileIsLeftAsItIs(checkpointSize: UInt64) throws {
        let (folder, dir) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try StreamedFile(folder: folder, name: "t.csv", header: ["a"])
        f.append("1\n2\n")
        try f.commit()
        let url = dir.appendingPathComponent("t.csv")
        let before = try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber
        let g = try StreamedFile(folder: folder, name: "t.csv", header: ["a"], start: .resume(checkpointSize: checkpointSize))
        #expect(g.isFinished)
        g.append("9\n")
        #expect(try g.flushedSize() == 6)
        try g.commit()
        g.abandon()
        #expect(try Self.text(url) == "a\n1\n2\n")
        #expect(try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber == before)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".t.csv.partial").path))
    }

    /// Without a checkpoint the run starts again: the partial file starts again from its header,
    /// and a finished file stays whole until the new one replaces it.
    @Test(arguments: [false, true])
    func withoutACheckpointTheFileIsWrittenAgain(finished: Bool) throws {
        let (folder, dir) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try StreamedFile(folder: folder, name: "t.csv", header: ["a"])
        f.append("1\n")
        if finished { try f.commit() } else { try f.flush() }
        f.close()
        let g = try StreamedFile(folder: folder, name: "t.csv", header: ["a"])
        g.append("7\n")
        try g.flush()
        let url = dir.appendingPathComponent("t.csv")
        #expect(FileManager.default.fileExists(atPath: url.path) == finished)
        if finished { #expect(try Self.text(url) == "a\n1\n") }
        try g.commit()
        #expect(try Self.text(url) == "a\n7\n")
    }

    /// A file missing, or shorter than the checkpoint says, fails in one line naming it, and
    /// the folder is left as it was.
    @Test func missingOrShortFileIsAOneLineError() throws {
        let (folder, dir) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = #expect(throws: RunError.self) {
            try StreamedFile(folder: folder, name: "t.csv", header: ["a"], start: .resume(checkpointSize: 10))
        }
        #expect(missing?.description.contains("neither t.csv nor .t.csv.partial") == true)
        #expect(missing?.description.contains("\n") == false)
        try Data("a\n".utf8).write(to: dir.appendingPathComponent(".t.csv.partial"))
        let short = #expect(throws: RunError.self) {
            try StreamedFile(folder: folder, name: "t.csv", header: ["a"], start: .resume(checkpointSize: 10))
        }
        #expect(short?.description.contains(".t.csv.partial: holds 2 bytes, fewer than the 10") == true)
        #expect(try Self.text(dir.appendingPathComponent(".t.csv.partial")) == "a\n")
        try FileManager.default.moveItem(at: dir.appendingPathComponent(".t.csv.partial"), to: dir.appendingPathComponent("t.csv"))
        let shortFinal = #expect(throws: RunError.self) {
            try StreamedFile(folder: folder, name: "t.csv", header: ["a"], start: .resume(checkpointSize: 10))
        }
        #expect(shortFinal?.description.contains("t.csv: holds 2 bytes") == true)
        #expect(try Self.text(dir.appendingPathComponent("t.csv")) == "a\n")
    }
}

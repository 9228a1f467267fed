import Testing
import Foundation
@testable import Experiments
@testable import Sweeps

/// Commands that write into a folder they did not create replace only files PruneLab wrote:
/// a file of the same name that PruneLab has no record of is refused, byte for byte untouched.
@Suite struct OutputFolderTests {
    static let foreign = Data("<html>my own notes, not PruneLab's</html>\n".utf8)

    /// A tiny finished run (dense, 1000 images, 1 epoch) in `dir`.
    static func finishedRun(in dir: URL) throws -> URL {
        let run = dir.appendingPathComponent("run")
        try ReportTests.run("dense", seed: 1, into: run)
        return run
    }

    /// `prunelab report` and its stderr, through the real binary.
    static func report(_ args: [String]) throws -> (status: Int32, stderr: String) {
        try CLIErrorTests().run(["report"] + args)
    }

    /// `report DIR` into a run folder that holds a `report.html` PruneLab did not write: exit 1,
    /// one line naming the file, the file byte-identical; once it is moved away, the report is
    /// written, and written again over its own file.
    @Test func reportRefusesAForeignReportInARunFolder() throws {
        try withScratchFolder("foreign-report") { dir in
            let run = try Self.finishedRun(in: dir)
            let page = run.appendingPathComponent("report.html")
            try Self.foreign.write(to: page)
            let refused = try Self.report([run.path])
            #expect(refused.status == 1)
            let lines = refused.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            #expect(lines.count == 1, "stderr: \(refused.stderr)")
            #expect(lines.first?.hasPrefix("prunelab: error: \(page.path): exists and is not a file PruneLab wrote") == true)
            #expect(try Data(contentsOf: page) == Self.foreign)
            try FileManager.default.removeItem(at: page)
            #expect(try Self.report([run.path]).status == 0)
            let first = try Data(contentsOf: page)
            #expect(first != Self.foreign && String(decoding: first, as: UTF8.self).hasPrefix("<!DOCTYPE html>"))
            let manifest = try String(contentsOf: run.appendingPathComponent(RunFolder.manifestName), encoding: .utf8)
            #expect(manifest.split(separator: "\n").contains("report.html"))
            #expect(try Self.report([run.path]).status == 0)
        }
    }

    /// `--out` into a folder of the user's: the foreign file is refused; a new name is written
    /// and listed in `.prunelab-files` (never a manifest: the folder does not pass for a run
    /// folder), and replaced on the next report.
    @Test func reportOutIntoAUsersFolder() throws {
        try withScratchFolder("foreign-out") { dir in
            let run = try Self.finishedRun(in: dir)
            let mine = dir.appendingPathComponent("papers")
            try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
            let theirs = mine.appendingPathComponent("report.html")
            try Self.foreign.write(to: theirs)
            let refused = try Self.report([run.path, "--out", theirs.path])
            #expect(refused.status == 1 && refused.stderr.contains("\(theirs.path): exists and is not a file PruneLab wrote"))
            #expect(try Data(contentsOf: theirs) == Self.foreign)
            let ours = mine.appendingPathComponent("pruning.html")
            #expect(try Self.report([run.path, "--out", ours.path]).status == 0)
            #expect(try Self.report([run.path, "--out", ours.path]).status == 0)
            let list = try String(contentsOf: mine.appendingPathComponent(OutputFolder.listName), encoding: .utf8)
            #expect(list == "pruning.html\n")
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent(RunFolder.manifestName).path))
            #expect(try Data(contentsOf: theirs) == Self.foreign)
            // a run refuses the folder: it is not a run folder
            #expect(throws: RunFolderError.self) {
                try Runner.run(try RunFolderTests.config(epochs: 1), options: RunOptions(outDir: mine.path, progress: false))
            }
            #expect(try Data(contentsOf: theirs) == Self.foreign)
        }
    }

    /// `aggregate` in a sweep folder whose `aggregate.md` is the user's writes nothing at all.
    @Test func aggregateRefusesAForeignFileAndWritesNothing() throws {
        let dir = try AggregateTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let md = dir.appendingPathComponent("aggregate.md")
        try Self.foreign.write(to: md)
        let error = #expect(throws: RunFolderError.self) { try Aggregate.write(dir: dir.path) }
        #expect(error?.description.hasPrefix("\(md.path): exists and is not a file PruneLab wrote") == true)
        #expect(try Data(contentsOf: md) == Self.foreign)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs.csv").path))
        try FileManager.default.removeItem(at: md)
        let files = try Aggregate.write(dir: dir.path)
        #expect(files.map(\.lastPathComponent) == ["runs.csv", "aggregate.csv", "curve.csv", "aggregate.md"])
        #expect(try Aggregate.write(dir: dir.path).count == 4)
    }

    /// A sweep folder of a version that kept no list: the files sweeps write count as PruneLab's,
    /// nothing else does.
    @Test func sweepFolderWithoutAListTakesTheSweepsOwnFiles() throws {
        let dir = try AggregateTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent(OutputFolder.listName))
        try Data("old".utf8).write(to: dir.appendingPathComponent("aggregate.md"))
        try Self.foreign.write(to: dir.appendingPathComponent("report.html"))
        let folder = try OutputFolder(dir)
        #expect(try folder.claim("aggregate.md") == dir.appendingPathComponent("aggregate.md"))
        #expect(throws: RunFolderError.self) { try folder.claim("report.html") }
        #expect(try Data(contentsOf: dir.appendingPathComponent("report.html")) == Self.foreign)
    }

    /// `quantize` into a run folder holding a foreign `quantize.csv` refuses before any work and
    /// writes no quantized model.
    @Test func quantizeRefusesAForeignFileInTheRunFolder() throws {
        try withScratchFolder("foreign-quantize") { dir in
            let run = try Self.finishedRun(in: dir)
            let csv = run.appendingPathComponent(PostTrainingQuantization.summaryName)
            try Self.foreign.write(to: csv)
            let error = #expect(throws: RunFolderError.self) { try PostTrainingQuantization.run(.init(runDir: run.path, bits: 4)) }
            #expect(error?.description.contains("\(csv.path): exists and is not a file PruneLab wrote") == true)
            #expect(try Data(contentsOf: csv) == Self.foreign)
            #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent(QuantizedModelFile.name).path))
        }
    }

    /// Anything under the name counts: a folder, or a link pointing nowhere.
    @Test func foldersAndDanglingLinksAreRefusedToo() throws {
        try withScratchFolder("foreign-kinds") { dir in
            let fm = FileManager.default
            try fm.createDirectory(at: dir.appendingPathComponent("a.csv"), withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: dir.appendingPathComponent("b.csv").path, withDestinationPath: "/nonexistent/x")
            for name in ["a.csv", "b.csv"] {
                #expect(throws: RunFolderError.self) { try OutputFolder.write(Data("x".utf8), to: dir.appendingPathComponent(name)) }
            }
            #expect(try fm.destinationOfSymbolicLink(atPath: dir.appendingPathComponent("b.csv").path) == "/nonexistent/x")
            let missing = #expect(throws: RunError.self) {
                try OutputFolder.write(Data("x".utf8), to: dir.appendingPathComponent("nope/c.csv"))
            }
            #expect(missing?.description == "\(dir.appendingPathComponent("nope").path): no such folder")
        }
    }
}

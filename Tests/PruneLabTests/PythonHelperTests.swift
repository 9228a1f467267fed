import Testing
import Foundation
@testable import Experiments
@testable import Sweeps

/// python/prunelab_io.py on a real compare folder, checked by python/test_prunelab_io.py against
/// the CSVs read with Python's csv module.
@Suite struct PythonHelperTests {
    static let pandas = ExternalRequirement.python("pandas")

    @Test(pandas.trait)
    func helperLoadsACompareFolderWithTypedColumnsAndOneVocabulary() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pyio-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let compare = root.appendingPathComponent("compare")
        try Compare.run(base: try CompareTests.base(), seeds: [1], methods: ["dense", "linear"], outDir: compare.path, force: false)
        let script = TestSupport.root.appendingPathComponent("python/test_prunelab_io.py")
        let r = try TestSupport.run("python3", [script.path, compare.path])
        #expect(r.status == 0 && r.output.hasPrefix("ok 2 runs"), "\(r.output)\(r.errors)")
    }

    /// `prunelab_io.run` and `compare` call the built binary with `--set` overrides, pass its
    /// progress through, raise its one-line error, and return the loaded folders
    /// (python/test_prunelab_io.py --cli).
    @Test(pandas.trait)
    func helperRunsTheCommandLineAndLoadsWhatItWrote() throws {
        let binary = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pycli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let script = TestSupport.root.appendingPathComponent("python/test_prunelab_io.py")
        let r = try TestSupport.run("python3", [script.path, "--cli", binary.path, scratch.path])
        #expect(r.status == 0 && r.output.hasSuffix("ok cli\n"), "\(r.output)\(r.errors)")
    }
}

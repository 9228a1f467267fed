import Testing
import Foundation
@testable import Experiments

/// python/prunelab_io.py on a real compare folder, checked by python/test_prunelab_io.py against
/// the CSVs read with Python's csv module.
@Suite struct PythonHelperTests {
    /// pandas is importable (scripts/deps.sh installs it); CI (PRUNELAB_CI=1) requires it.
    static let pandasAvailable =
        (try? HDF5WriterTests.runPython(["-c", "import pandas"])) != nil || ProcessInfo.processInfo.environment["PRUNELAB_CI"] != nil

    @Test(.enabled(if: pandasAvailable, "pandas is not importable: pip install pandas (scripts/deps.sh does)"))
    func helperLoadsACompareFolderWithTypedColumnsAndOneVocabulary() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pyio-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let compare = root.appendingPathComponent("compare")
        try Compare.run(base: try CompareTests.base(), seeds: [1], methods: ["dense", "linear"], outDir: compare.path, force: false)
        let script = EndToEndTests.root.appendingPathComponent("python/test_prunelab_io.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, compare.path]
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError) = (out, err)
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0 && stdout.hasPrefix("ok 2 runs"), "\(stdout)\(stderr)")
    }
}

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
}

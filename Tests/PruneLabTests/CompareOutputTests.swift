import Foundation
import Testing

@testable import Experiments
@testable import Sweeps

/// What a compare writes from its rows: the arm the Δ columns are taken against, and counts as integers.
@Suite("CompareOutput")
struct CompareOutputTests {
    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-cmpout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Two arms over two seeds with hand-chosen numbers.
    static func rows() -> (rows: [ComparisonRow], wall: [ComparisonRow]) {
        var rows: [ComparisonRow] = [], wall: [ComparisonRow] = []
        for (arm, acc) in [("dense", [0.90, 0.92]), ("linear", [0.85, 0.89])] {
            for seed in [1, 2] {
                rows.append(
                    ComparisonRow(
                        method: arm, seed: seed,
                        values: ["test_accuracy": acc[seed - 1], "nonzero_weights": 26620, "steps": 40, "sparsity": 0.9]))
                wall.append(ComparisonRow(method: arm, seed: seed, values: ["wall_seconds": 0.5]))
            }
        }
        return (rows, wall)
    }

    /// Without `--baseline`, `han` when compared, else the first arm; a named arm must be compared.
    @Test func baselineDefaultsToHanElseTheFirstArm() throws {
        #expect(try Compare.baseline(nil, methods: ["dense", "han", "linear"]) == "han")
        #expect(try Compare.baseline(nil, methods: ["linear", "dense"]) == "linear")
        #expect(try Compare.baseline("dense", methods: ["dense", "han"]) == "dense")
        do {
            _ = try Compare.baseline("snip", methods: ["dense", "han"])
            Issue.record("an arm not compared was accepted as baseline")
        } catch let e as RunError {
            #expect("\(e)".contains("--baseline") && "\(e)".contains("snip") && "\(e)".contains("dense, han"))
        }
    }

    /// comparison.md takes Δ against the given arm: linear − dense per seed is −0.05 and −0.03,
    /// mean −0.04; comparison.csv writes counts as integers and fractions as they are.
    @Test func reportUsesTheBaselineAndWritesCountsAsIntegers() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (rows, wall) = Self.rows()
        try Compare.writeReports(rows: rows, wall: wall, dir: dir, baseline: "dense", title: "t")
        let md = try String(contentsOf: dir.appendingPathComponent("comparison.md"), encoding: .utf8)
        #expect(md.contains("Δ vs dense") && !md.contains("Δ vs han"))
        #expect(md.contains("-0.0400"))
        let table = try CSVReader.read(dir.appendingPathComponent("comparison.csv"))
        let header = table[0]
        let cell = { (row: Int, column: String) in table[row][try #require(header.firstIndex(of: column))] }
        #expect(try cell(1, "nonzero_weights") == "26620")
        #expect(try cell(1, "steps") == "40")
        #expect(try cell(1, "sparsity") == "0.9")
        #expect(try cell(1, "test_accuracy") == "0.9")
    }

    /// A count that is not a whole number (a mean, say) keeps its fraction.
    @Test func fractionalCountsStayDoubles() {
        #expect(ComparisonReport.cell(3, integer: true) == .int(3))
        #expect(ComparisonReport.cell(2.5, integer: true) == .double(2.5))
        #expect(ComparisonReport.cell(3, integer: false) == .double(3))
        #expect(ComparisonReport.cell(.nan, integer: true).text == "nan")
    }
}

import Testing
import Foundation
import Schema
@testable import Experiments
@testable import Sweeps
@testable import Reports

/// `prunelab aggregate` on hand-built sweep folders, against statistics computed here by brute
/// force with t quantiles from a printed table.
@Suite struct AggregateTests {
    /// t(0.975, ν) for ν = 1, 2, 3 (any table of Student's t; e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    static let t975: [Int: Double] = [1: 12.706, 2: 4.303, 3: 3.182]

    /// Test accuracy of a hand-built run: distinct, irregular numbers per (label, sparsity, seed).
    static func accuracy(_ label: String, _ sparsity: Double, _ seed: Int) -> Double {
        let base: Double = label == "han" ? 0.97 : 0.965
        let percent: Int = Int(sparsity * 100)
        let k: Int = (seed * 37 + percent * 11 + label.count * 5) % 17
        return base - sparsity * 0.01 + Double(k) / 2000
    }

    /// A sweep folder of arm × target sparsity × seed whose run folders hold only `run.json` and
    /// `summary.csv`; han at 0.9 lacks seed 3, and linear at 0.8 seed 2 is still running.
    /// With `epochs`, a `training.epochs` axis whose value follows from the label and the
    /// sparsity (the equal-FLOPs design: each method its own budget per sparsity).
    static func folder(epochs: ((String, String) -> String)? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agg-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = try ConfigLoader.decode(Data(EndToEndTests.mnistConfig().utf8))
        var points: [SweepPoint] = []
        for label in ["han", "linear"] {
            for s in ["0.8", "0.9"] {
                for seed in 1...3 {
                    var values: [SweepPoint.AxisValue] = [
                        .init(key: "arm", value: label), .init(key: "pruning.target_sparsity", value: s),
                        .init(key: "seed", value: "\(seed)"),
                    ]
                    if let epochs { values.insert(.init(key: "training.epochs", value: epochs(label, s)), at: 2) }
                    points.append(SweepPoint(index: points.count, name: SweepPlan.folderName(values), values: values, config: config))
                }
            }
        }
        let axes = ["arm", "pruning.target_sparsity"] + (epochs == nil ? [] : ["training.epochs"]) + ["seed"]
        try SweepPlan(axes: axes, points: points).write(to: dir)
        for p in points {
            let label = p.values[0].value, s = Double(p.values[1].value)!, seed = Int(p.values.last!.value)!
            if label == "han" && s == 0.9 && seed == 3 { continue }
            let run = dir.appendingPathComponent(p.name)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let status = label == "linear" && s == 0.8 && seed == 2 ? "running" : "completed"
            let info =
                #"{"version": "0.2.0", "git_commit": "x", "command": "", "seed": \#(seed), "threads": 1, "blas_core": "Haswell", "started": "t", "status": "\#(status)"}"#
            try info.write(to: run.appendingPathComponent("run.json"), atomically: true, encoding: .utf8)
            let summary =
                "name,label,seed,test_accuracy,sparsity,wall_seconds\nx-\(label),\(label),\(seed),\(accuracy(label, s, seed)),\(s + 0.001),\(Double(seed) + 0.5)\n"
            try summary.write(to: run.appendingPathComponent("summary.csv"), atomically: true, encoding: .utf8)
        }
        return dir
    }

    static func rows(_ url: URL) throws -> [[String: String]] {
        let r = try CSVReader.read(url)
        return r.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(r[0], $0)) }
    }

    /// mean, sample std and the t half-width, the long way.
    static func brute(_ xs: [Double]) -> (mean: Double, std: Double, half: Double?) {
        var sum = 0.0
        for x in xs { sum += x }
        let mean = sum / Double(xs.count)
        var ss = 0.0
        for x in xs { ss += (x - mean) * (x - mean) }
        let std = xs.count > 1 ? (ss / Double(xs.count - 1)).squareRoot() : 0
        return (mean, std, xs.count > 1 ? t975[xs.count - 1]! * std / Double(xs.count).squareRoot() : nil)
    }

    @Test func groupStatisticsAndPairedDifferencesMatchBruteForce() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try Aggregate.write(dir: dir.path)
        #expect(files.map(\.lastPathComponent) == ["runs.csv", "aggregate.csv", "curve.csv", "aggregate.md"])
        let runs = try Self.rows(dir.appendingPathComponent("runs.csv"))
        #expect(runs.count == 10)
        #expect(
            try CSVReader.read(dir.appendingPathComponent("runs.csv"))[0] == [
                "point", "arm", "pruning.target_sparsity", "name", "label", "seed", "test_accuracy", "sparsity", "wall_seconds",
            ])
        let agg = try Self.rows(dir.appendingPathComponent("aggregate.csv"))
        for label in ["han", "linear"] {
            for s in [0.8, 0.9] {
                let seeds = (1...3).filter { !(label == "han" && s == 0.9 && $0 == 3) && !(label == "linear" && s == 0.8 && $0 == 2) }
                let xs = seeds.map { Self.accuracy(label, s, $0) }
                let row = try #require(
                    agg.first { $0["label"] == label && $0["pruning.target_sparsity"] == "\(s)" && $0["metric"] == "test_accuracy" })
                let b = Self.brute(xs)
                #expect(row["n"] == "\(xs.count)")
                #expect(abs(Double(row["mean"]!)! - b.mean) < 1e-12 && abs(Double(row["std"]!)! - b.std) < 1e-12)
                #expect(
                    abs(Double(row["ci_low"]!)! - (b.mean - b.half!)) < 1e-6 && abs(Double(row["ci_high"]!)! - (b.mean + b.half!)) < 1e-6)
                guard label == "linear" else {
                    #expect(row["baseline"] == "" && row["delta"] == "")
                    continue
                }
                let paired = seeds.filter { !(s == 0.9 && $0 == 3) }
                let d = paired.map { Self.accuracy("linear", s, $0) - Self.accuracy("han", s, $0) }
                let bd = Self.brute(d)
                #expect(row["baseline"] == "han" && row["pairs"] == "\(d.count)")
                #expect(abs(Double(row["delta"]!)! - bd.mean) < 1e-12)
                #expect(abs(Double(row["delta_ci_low"]!)! - (bd.mean - bd.half!)) < 1e-6)
            }
        }
        let curve = try Self.rows(dir.appendingPathComponent("curve.csv"))
        #expect(curve.map { "\($0["label"]!)@\($0["requested_sparsity"]!)" } == ["han@0.8", "han@0.9", "linear@0.8", "linear@0.9"])
        #expect(curve.allSatisfy { abs(Double($0["sparsity"]!)! - Double($0["requested_sparsity"]!)! - 0.001) < 1e-12 })
        // the verdict of each paired difference, from its brute-force interval
        for row in curve where row["label"] == "linear" {
            let s = Double(row["requested_sparsity"]!)!
            let seeds = (1...3).filter { !(s == 0.9 && $0 == 3) && !(s == 0.8 && $0 == 2) }
            let d = Self.brute(seeds.map { Self.accuracy("linear", s, $0) - Self.accuracy("han", s, $0) })
            let want = d.mean - d.half! > 0 ? "better" : d.mean + d.half! < 0 ? "worse" : "tie"
            #expect(row["verdict"] == want)
        }
        #expect(curve.filter { $0["label"] == "han" }.allSatisfy { $0["verdict"] == "" })
        let md = try String(contentsOf: dir.appendingPathComponent("aggregate.md"), encoding: .utf8)
        let left = "not complete (left out): han-target_sparsity0.9-seed3, linear-target_sparsity0.8-seed2."
        #expect(md.contains("10 completed runs in 4 groups; \(left)"))
        #expect(md.contains("## Curve along pruning.target_sparsity"))
        let lin = try #require(curve.first { $0["label"] == "linear" && $0["requested_sparsity"] == "0.9" })
        let style = ComparisonReport.NumberStyle(metric: "test_accuracy")
        #expect(
            md.contains(
                "| linear | 0.9 | \(style.format(Double(lin["sparsity"]!)!)) | 3 | \(style.format(Double(lin["test_accuracy"]!)!)) |"))
    }

    /// Epochs that follow from the method and the sparsity (Han 20; linear 100 at 0.8, 140 at
    /// 0.9) do not split the curve or stop the pairing with Han at each sparsity.
    @Test func budgetsThatFollowFromMethodAndSparsityStillPair() throws {
        let dir = try Self.folder { label, s in label == "han" ? "20" : s == "0.8" ? "100" : "140" }
        defer { try? FileManager.default.removeItem(at: dir) }
        try Aggregate.write(dir: dir.path)
        let curve = try Self.rows(dir.appendingPathComponent("curve.csv"))
        #expect(
            curve.map { "\($0["label"]!)@\($0["requested_sparsity"]!)/\($0["training.epochs"]!)" } == [
                "han@0.8/20", "han@0.9/20", "linear@0.8/100", "linear@0.9/140",
            ])
        for row in curve where row["label"] == "linear" {
            let s = Double(row["requested_sparsity"]!)!
            let seeds = (1...3).filter { !(s == 0.9 && $0 == 3) && !(s == 0.8 && $0 == 2) }
            let d = Self.brute(seeds.map { Self.accuracy("linear", s, $0) - Self.accuracy("han", s, $0) })
            #expect(abs(Double(row["delta_test_accuracy"]!)! - d.mean) < 1e-12)
        }
        let sweep = try ReportSweep(root: dir)
        #expect(sweep.curves.count == 1 && sweep.curves[0].contexts.isEmpty && sweep.curves[0].contextValues.count == 1)
    }

    @Test func unknownBaselineIsAOneLineError() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: ConfigError.self) { try Aggregate.write(dir: dir.path, baseline: "gmp") }
        try Aggregate.write(dir: dir.path, baseline: "linear")
        let row = try #require(
            try Self.rows(dir.appendingPathComponent("aggregate.csv")).first { $0["label"] == "han" && $0["metric"] == "sparsity" })
        #expect(row["baseline"] == "linear")
        #expect(throws: RunError.self) { try Aggregate.write(dir: FileManager.default.temporaryDirectory.path + "/no-such-sweep") }
    }
}

import Testing
import Foundation
import TensorCore
@testable import Experiments

/// The TensorBoard event files, read back with TensorBoard's own reader (EventAccumulator).
@Suite struct TensorBoardTests {
    static let reader = ExternalRequirement.python("tensorboard")

    @Test func crc32cMatchesTheStandardCheckValueAndFramingLayout() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
        let framed = TFRecord.frame([7, 8, 9])
        #expect(framed.count == 8 + 4 + 3 + 4)
        #expect(Array(framed[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0])
        let c = CRC32C.checksum([7, 8, 9] as [UInt8])
        let masked = ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
        #expect(Array(framed[15..<19]) == withUnsafeBytes(of: masked.littleEndian, Array.init))
    }

    static func config() -> String {
        EndToEndTests.mnistConfig(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8,
              "dynamic": {"criterion": "linear", "cubic": {"start": "10it", "end": "60it", "every": "10it"},
                          "linear": {"stats_every": "2it", "horizon": "20it"}}},
              "tensorboard": {"histograms_every": "20it"}
            """#
        ).replacingOccurrences(of: #""momentum": 0.9}"#, with: #""momentum": 0.9, "eval_every": "20it", "log_every": "10it"}"#)
    }

    /// One run's scalars (tag ▶ step ▶ value; TensorBoard's are float32, and JSONSerialization
    /// may miss a double's last digit, so they are compared as Float) and histograms
    /// (tag ▶ [step, num, min, max, bucket sum]).
    struct Run {
        var scalars: [String: [Int: Float]] = [:]
        var histograms: [String: [[Double]]] = [:]
    }

    static func dump(_ logdir: URL) throws -> [String: Run] {
        let script = try #require(Bundle.module.url(forResource: "tb_dump", withExtension: "py", subdirectory: "Fixtures"))
        let text = try TestSupport.python([script.path, logdir.path])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let runs = try #require(json["runs"] as? [String: [String: Any]])
        return runs.mapValues { r in
            var run = Run()
            for (tag, points) in r["scalars"] as? [String: [[Double]]] ?? [:] {
                run.scalars[tag] = Dictionary(points.map { (Int($0[0]), Float($0[1])) }) { _, later in later }
            }
            run.histograms = r["histograms"] as? [String: [[Double]]] ?? [:]
            return run
        }
    }

    /// Every metrics.csv row is a scalar at its step with its value (as float32), and each
    /// test evaluation carries the row's train FLOPs and wall seconds; no other step appears.
    static func expectScalarsMatchMetrics(_ run: Run, folder: URL) throws {
        let rows = try CSVReader.read(folder.appendingPathComponent("metrics.csv"))
        let h = Dictionary(uniqueKeysWithValues: rows[0].enumerated().map { ($1, $0) })
        var steps: [String: Set<Int>] = [:]
        for r in rows.dropFirst() {
            let step = Int(r[h["step"]!])!, tag = "\(r[h["split"]!])/\(r[h["metric"]!])"
            steps[tag, default: []].insert(step)
            #expect(run.scalars[tag]?[step] == Float(Double(r[h["value"]!])!), "\(tag) at step \(step)")
            guard tag == "test/accuracy" else { continue }
            #expect(run.scalars["train_flops"]?[step] == Float(Double(r[h["train_flops"]!])!), "train_flops at \(step)")
            #expect(run.scalars["wall_seconds"]?[step] == Float(Double(r[h["wall_seconds"]!])!), "wall_seconds at \(step)")
        }
        for (tag, s) in steps { #expect(Set(run.scalars[tag]?.keys.map { $0 } ?? []) == s, "\(tag): the steps of metrics.csv") }
    }

    @Test(reader.trait)
    func tensorBoardReadsEveryTagWithTheRunsValues() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try ConfigLoader.decode(Data(Self.config().utf8))
        let outcome = try Runner.run(config, options: RunOptions(outDir: root.appendingPathComponent("run").path, progress: false))
        let runs = try Self.dump(root)
        #expect(Array(runs.keys) == ["run/tb"])
        let run = try #require(runs["run/tb"])
        let layers = ["fc1", "fc2", "fc3"]
        var scalarTags = ["train/loss", "train/accuracy", "train/learning_rate", "test/loss", "test/accuracy", "sparsity/overall"]
        scalarTags += layers.map { "sparsity/\($0)" } + ["train_flops", "wall_seconds"]
        #expect(Set(run.scalars.keys) == Set(scalarTags))
        var histogramTags = layers.map { "weights/\($0)" }
        for l in layers {
            histogramTags += ["r2", "straightness", "predicted"].map { "criterion/linear/\($0)/\(l)" }
            histogramTags += ["weight", "r2", "straightness", "predicted"].map { "pruned/\(l)/\($0)" }
        }
        #expect(Set(run.histograms.keys) == Set(histogramTags))
        try Self.expectScalarsMatchMetrics(run, folder: root.appendingPathComponent("run"))
        #expect(run.scalars["sparsity/overall"]?[80] == Float(outcome.summary.sparsity))
        for l in layers {
            let mask = try #require(outcome.masks["\(l).weight"])
            let live = mask.scalars.filter { $0 != 0 }.count
            let weights = try #require(run.histograms["weights/\(l)"])
            // a histogram at every test evaluation; the last one counts the final live weights
            #expect(weights.map { Int($0[0]) } == [20, 40, 60, 80])
            #expect(weights.last?[1] == Double(live), "weights/\(l) counts the live weights")
            #expect(weights.allSatisfy { $0[1] == $0[4] }, "bucket counts sum to num")
            // what the checks pruned adds up to what the layer lost
            let pruned = try #require(run.histograms["pruned/\(l)/weight"]).reduce(0) { $0 + Int($1[1]) }
            #expect(pruned == mask.count - live, "pruned/\(l)/weight over every check")
            #expect(run.histograms["criterion/linear/r2/\(l)"]?.last?[1] == Double(live))
        }
    }

    /// An interrupted and resumed run reads back as one run: TensorBoard drops the first
    /// process's events after its checkpoint, so the scalars are metrics.csv's again; a folder
    /// of run folders (a compare folder) is one logdir with a run per folder.
    @Test(reader.trait)
    func resumedRunReadsBackWithoutTheRepeatedSteps() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tbr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try ConfigLoader.decode(Data(Self.config().utf8))
        let whole = root.appendingPathComponent("whole"), pieces = root.appendingPathComponent("pieces")
        _ = try Runner.run(config, options: RunOptions(outDir: whole.path, progress: false))
        var options = RunOptions(outDir: pieces.path, progress: false)
        options.interruptAfterStep = 55  // after the checkpoint at step 40 and the evaluation at 40
        #expect(throws: RunInterrupted.self) { try Runner.run(config, options: options) }
        options.interruptAfterStep = nil
        _ = try Runner.resume(dir: pieces.path, options: options)
        let tb = try FileManager.default.contentsOfDirectory(atPath: pieces.appendingPathComponent("tb").path)
        #expect(tb.count == 2, "one event file per process")
        let runs = try Self.dump(root)
        #expect(Set(runs.keys) == ["whole/tb", "pieces/tb"])
        for (name, folder) in [("whole/tb", whole), ("pieces/tb", pieces)] {
            try Self.expectScalarsMatchMetrics(try #require(runs[name]), folder: folder)
        }
        let a = try #require(runs["whole/tb"]), b = try #require(runs["pieces/tb"])
        for tag in ["test/accuracy", "sparsity/overall", "train_flops"] { #expect(a.scalars[tag] == b.scalars[tag], "\(tag)") }
        for (tag, h) in a.histograms {
            #expect(b.histograms[tag]?.map { Array($0[0...3]) } == h.map { Array($0[0...3]) }, "\(tag) after resume")
        }
    }
}

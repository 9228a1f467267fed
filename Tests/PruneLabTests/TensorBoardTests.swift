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
        /// Every scalar point in file order (a step may hold two: an evaluation, then a pruning event).
        var points: [String: [(step: Int, value: Float)]] = [:]
        var histograms: [String: [[Double]]] = [:]
        /// The HParams plugin's parse of the run's summaries: `start` (hparam ▶ value),
        /// `end_status`, `experiment` (`hparams`, `metrics`).
        var hparams: [String: Any] = [:]
    }

    static func dump(_ logdir: URL) throws -> [String: Run] { try dumpAll(logdir).runs }

    /// The runs, and what the HParams dashboard lists (`hparams`, `metrics`, `sessions`).
    static func dumpAll(_ logdir: URL) throws -> (runs: [String: Run], dashboard: [String: Any]) {
        let script = try #require(Bundle.module.url(forResource: "tb_dump", withExtension: "py", subdirectory: "Fixtures"))
        let text = try TestSupport.python([script.path, logdir.path])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let runs = try #require(json["runs"] as? [String: [String: Any]])
        let parsed = runs.mapValues { r in
            var run = Run()
            for (tag, points) in r["scalars"] as? [String: [[Double]]] ?? [:] {
                run.points[tag] = points.map { (Int($0[0]), Float($0[1])) }
                run.scalars[tag] = Dictionary(points.map { (Int($0[0]), Float($0[1])) }) { _, later in later }
            }
            run.histograms = r["histograms"] as? [String: [[Double]]] ?? [:]
            run.hparams = r["hparams"] as? [String: Any] ?? [:]
            return run
        }
        return (parsed, try #require(json["dashboard"] as? [String: Any]))
    }

    /// The metrics of the HParams dashboard and the summary.csv columns they report.
    static let finalMetrics = [
        ("final/test_accuracy", "test_accuracy"), ("final/sparsity", "sparsity"), ("final/train_flops", "train_flops"),
        ("final/wall_seconds", "wall_seconds"),
    ]

    /// The run's HParams session as the plugin parses it: the hyperparameters of its summary.csv
    /// (and `target`), a successful end, the experiment's names, and the final metrics as
    /// scalars equal to summary.csv's values.
    static func expectSession(_ run: Run, folder: URL, target: Double) throws {
        let rows = try CSVReader.read(folder.appendingPathComponent("summary.csv"))
        let s = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        let start = try #require(run.hparams["start"] as? [String: Any])
        for key in ["method", "criterion", "schedule"] { #expect(start[key] as? String == s[key], "hparam \(key)") }
        #expect(start["arm"] as? String == s["label"])
        #expect(start["seed"] as? Double == Double(s["seed"]!))
        #expect(abs((start["target_sparsity"] as? Double ?? .nan) - target) < 1e-12)
        #expect(run.hparams["end_status"] as? Int == 1, "STATUS_SUCCESS")
        let experiment = try #require(run.hparams["experiment"] as? [String: [String]])
        #expect(Set(experiment["hparams"] ?? []) == Set(start.keys))
        #expect(experiment["metrics"] == finalMetrics.map(\.0))
        for (tag, column) in finalMetrics {
            #expect(run.points[tag]?.count == 1, "\(tag) once")
            #expect(run.points[tag]?.first?.value == Float(Double(s[column]!)!), "\(tag) is summary.csv's \(column)")
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
        scalarTags += layers.map { "sparsity/\($0)" } + ["train_flops", "wall_seconds"] + Self.finalMetrics.map(\.0)
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
        try Self.expectSparsityAtEveryCheck(run, folder: root.appendingPathComponent("run"))
        try Self.expectSession(run, folder: root.appendingPathComponent("run"), target: 0.8)
    }

    /// `sparsity/*` has one point per pruning check (every step of events.csv) and per test
    /// evaluation at another step, and at a check each layer's point is its events.csv
    /// `sparsity_after`.
    static func expectSparsityAtEveryCheck(_ run: Run, folder: URL) throws {
        let rows = try CSVReader.read(folder.appendingPathComponent("events.csv"))
        let h = Dictionary(uniqueKeysWithValues: rows[0].enumerated().map { ($1, $0) })
        let checks = Set(rows.dropFirst().map { Int($0[h["step"]!])! })
        let metrics = try CSVReader.read(folder.appendingPathComponent("metrics.csv"))
        let evaluations = Set(metrics.dropFirst().filter { $0[2] == "test" }.map { Int($0[0])! })
        #expect(!checks.isEmpty && !checks.isSubset(of: evaluations), "the run has checks between evaluations")
        let steps = try #require(run.points["sparsity/overall"]).map(\.step)
        #expect(steps.count == Set(steps).count, "one point per step")
        #expect(Set(steps) == checks.union(evaluations))
        #expect(steps.filter(checks.contains).count == checks.count, "a point per check of events.csv")
        for r in rows.dropFirst() {
            let tag = "sparsity/\(r[h["layer"]!])", step = Int(r[h["step"]!])!
            #expect(run.scalars[tag]?[step] == Float(Double(r[h["sparsity_after"]!])!), "\(tag) at check \(step)")
        }
    }

    /// Han's rounds each add a sparsity point (rounds.csv's sparsities after pruning); with
    /// recording on, every sampled weight is a scalar curve with trajectories.csv's values; and
    /// the HParams dashboard over the parent folder lists both runs as sessions with their
    /// hyperparameters and summary.csv's final metrics.
    @Test(reader.trait)
    func hanRoundsRecordedWeightsAndTheHParamsDashboard() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tbh-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let han = EndToEndTests.mnistConfig(
            #"""
            , "pruning": {"method": "han", "layer_sparsity": {"fc1": 0.95}, "exclude": ["fc3"],
              "han": {"rule": "sparsity", "rounds": 2, "retrain": "15it", "retrain_learning_rate": 0.01}},
              "recording": {"enabled": true, "every": "10it", "samples_per_layer": 4}
            """#, epochs: 1)
        let dense = EndToEndTests.mnistConfig(#", "pruning": {"method": "dense"}"#, epochs: 1)
        for (name, text) in [("han", han), ("dense", dense)] {
            let config = try ConfigLoader.decode(Data(text.utf8))
            _ = try Runner.run(config, options: RunOptions(outDir: root.appendingPathComponent(name).path, progress: false))
        }
        let (runs, dashboard) = try Self.dumpAll(root)
        let run = try #require(runs["han/tb"])
        let folder = root.appendingPathComponent("han")
        let rounds = try CSVReader.read(folder.appendingPathComponent("rounds.csv"))
        let h = Dictionary(uniqueKeysWithValues: rounds[0].enumerated().map { ($1, $0) })
        // training ends at step 40; round r prunes at 40 + 15 (r - 1)
        let points = try #require(run.points["sparsity/overall"])
        for (r, row) in rounds.dropFirst().enumerated() {
            let step = 40 + 15 * r
            #expect(points.last { $0.step == step }?.value == Float(Double(row[h["sparsity_after"]!])!), "round \(r + 1)")
            #expect(run.scalars["sparsity/fc1"]?[step] == Float(Double(row[h["fc1_sparsity_after"]!])!))
        }
        #expect(points.count == Set(points.map(\.step)).count + 1, "the first round prunes at the last evaluation's step")
        try Self.expectRecordedWeights(run, folder: folder)
        // the target over the pruned weights: fc1 (784 × 300) at 0.95, fc2 (300 × 100) at 0.9
        try Self.expectSession(run, folder: folder, target: (0.95 * 235_200 + 0.9 * 30_000) / 265_200)
        try Self.expectSession(try #require(runs["dense/tb"]), folder: root.appendingPathComponent("dense"), target: 0)
        let sessions = try #require(dashboard["sessions"] as? [[String: Any]])
        #expect(Set(sessions.compactMap { $0["name"] as? String }) == ["han/tb", "dense/tb"])
        #expect((dashboard["metrics"] as? [String]) == Self.finalMetrics.map(\.0))
        // the dashboard shows its first five hyperparameters: the method (named by the arm) comes last
        #expect((dashboard["hparams"] as? [String]) == ["arm", "criterion", "schedule", "seed", "target_sparsity", "method"])
        for session in sessions {
            let name = try #require(session["name"] as? String)
            let summary = try CSVReader.read(root.appendingPathComponent(String(name.dropLast(3))).appendingPathComponent("summary.csv"))
            let s = Dictionary(uniqueKeysWithValues: zip(summary[0], summary[1]))
            #expect((session["hparams"] as? [String: Any])?["arm"] as? String == s["label"])
            #expect(session["status"] as? String == "STATUS_SUCCESS")
            let metrics = try #require(session["metrics"] as? [String: Double])
            for (tag, column) in Self.finalMetrics {
                #expect(metrics[tag].map(Float.init) == Float(Double(s[column]!)!), "\(name): \(tag)")
            }
        }
    }

    /// Every structured selection (soft ones during training, the final one) adds a sparsity
    /// point at its events.csv step.
    @Test(reader.trait)
    func everyStructuredSelectionIsASparsityPoint() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tbs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let text = EndToEndTests.mnistConfig(
            #"""
            , "pruning": {"method": "structured", "structured": {"criterion": "l1", "layers": ["fc1", "fc2"], "ratio": 0.5,
              "start": "10it", "every": "10it", "finetune": "5it"}}
            """#, epochs: 1)
        let config = try ConfigLoader.decode(Data(text.utf8))
        _ = try Runner.run(config, options: RunOptions(outDir: root.appendingPathComponent("run").path, progress: false))
        let run = try #require(try Self.dump(root)["run/tb"])
        let events = try CSVReader.read(root.appendingPathComponent("run/events.csv"))
        let selections = Set(events.dropFirst().map { Int($0[0])! })
        #expect(selections == [10, 20, 30, 40], "soft selections at 10, 20, 30, the final one at 40")
        let steps = try #require(run.points["sparsity/overall"]).map(\.step)
        // the evaluation at 40 comes before the final selection at 40; the last point is the final evaluation's
        #expect(steps == [10, 20, 30, 40, 40, 45])
        #expect(run.scalars["sparsity/fc1"]?[40] == 0.5, "half of fc1's units, with all their weights")
    }

    /// Each sampled weight of trajectories.csv is the scalar `trajectory.<layer>/<index>` with its
    /// value at every record.
    static func expectRecordedWeights(_ run: Run, folder: URL) throws {
        let rows = try CSVReader.read(folder.appendingPathComponent("trajectories.csv"))
        let h = Dictionary(uniqueKeysWithValues: rows[0].enumerated().map { ($1, $0) })
        var expected: [String: [Int: Float]] = [:]
        for r in rows.dropFirst() {
            expected["trajectory.\(r[h["layer"]!])/\(r[h["index"]!])", default: [:]][Int(r[h["step"]!])!] = Float(r[h["value"]!])!
        }
        #expect(expected.count == 12, "4 weights of each of the 3 layers")
        for (tag, values) in expected { #expect(run.scalars[tag] == values, "\(tag)") }
        #expect(Set(run.scalars.keys.filter { $0.hasPrefix("trajectory.") }) == Set(expected.keys))
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

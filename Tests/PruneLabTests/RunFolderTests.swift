import Testing
import Foundation
import TensorCore
import HDF5Support
import Pruning
@testable import Experiments

/// `--out` never deletes what PruneLab did not write, one writer per folder, and interrupted
/// runs resume to exactly the files an uninterrupted run writes.
@Suite struct RunFolderTests {
    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-rf-\(UUID().uuidString)", isDirectory: true)
    }

    static func config(_ extra: String = "", epochs: Int = 2) throws -> ExperimentConfig {
        try ConfigLoader.decode(Data(EndToEndTests.mnistConfig(extra, epochs: epochs).utf8))
    }

    @Test func refusesAFolderThatIsNotARunFolderWithOrWithoutForce() throws {
        let dir = Self.tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let thesis = dir.appendingPathComponent("thesis.tex")
        try Data("\\documentclass{article}".utf8).write(to: thesis)
        for force in [false, true] {
            let error = #expect(throws: RunFolderError.self) {
                try Runner.run(try Self.config(), options: RunOptions(outDir: dir.path, force: force, progress: false))
            }
            #expect(error == .notEmpty(path: dir.path, shown: "thesis.tex"))
            #expect(error?.description.contains("not a PruneLab run folder") == true)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["thesis.tex"])
        #expect(try String(contentsOf: thesis, encoding: .utf8) == "\\documentclass{article}")
    }

    /// A bad data folder fails before the run folder is touched.
    @Test func badDataFailsBeforeTheFolderIsWritten() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try ConfigLoader.decode(Data(EndToEndTests.mnistConfig().utf8), overrides: ["data.dir=/nonexistent/mnist"])
        #expect(throws: (any Error).self) { try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false)) }
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    /// `--force` removes the previous run's own files and nothing else.
    @Test func forceRemovesOnlyTheManifestsFiles() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try Self.config(epochs: 1)
        _ = try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        let notes = dir.appendingPathComponent("my-notes.txt")
        try Data("keep me".utf8).write(to: notes)
        let tb = dir.appendingPathComponent("tb")
        let oldEvents = try FileManager.default.contentsOfDirectory(atPath: tb.path)
        #expect(oldEvents.count == 1)
        try Data("mine".utf8).write(to: tb.appendingPathComponent("my-plot.png"))
        let manifest = try String(contentsOf: dir.appendingPathComponent(RunFolder.manifestName), encoding: .utf8)
        #expect(manifest.contains("summary.csv") && manifest.contains("model.h5") && !manifest.contains("my-notes"))
        #expect(throws: RunFolderError.holdsFinishedRun(path: dir.path)) {
            try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        }
        _ = try Runner.run(config, options: RunOptions(outDir: dir.path, force: true, progress: false))
        #expect(try String(contentsOf: notes, encoding: .utf8) == "keep me")
        // the previous event file went (it is in the manifest as tb/...), the user's file in tb/ stayed
        let events = try FileManager.default.contentsOfDirectory(atPath: tb.path)
        #expect(events.contains("my-plot.png") && events.count == 2, "\(events), before \(oldEvents)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("summary.csv").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(CheckpointFile.name).path))
    }

    /// A second writer fails at once naming the holder's pid; a released lock does not block.
    @Test func oneWriterPerFolder() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var holder: RunFolder? = RunFolder(path: dir.path)
        try holder!.open(force: false)
        #expect(holder!.isHeldByLiveProcess())
        let error = #expect(throws: RunFolderError.self) { try RunFolder(path: dir.path).open(force: false) }
        #expect(error == .inUse(path: dir.path, pid: "\(getpid())"))
        #expect(error?.description.contains("pid \(getpid())") == true)
        holder = nil
        #expect(!RunFolder(path: dir.path).isHeldByLiveProcess())
        try RunFolder(path: dir.path).open(force: false)
    }

    /// The files every method writes, compared between an uninterrupted run and a run stopped
    /// after `stop` steps and resumed: summary.csv but its timing columns, and every other
    /// CSV and model array, bit for bit.
    static func expectResumeIsExact(_ extra: String, stops: [Int], epochs: Int = 3) throws {
        try expectResumeIsExact(config: try Self.config(extra, epochs: epochs), stops: stops)
    }

    /// Expects two CSV files equal byte for byte, except `metrics.csv`'s timing columns
    /// (`MetricsRecorder.timingColumns`), which are dropped from both before comparing.
    static func expectSameCSV(_ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard a.lastPathComponent == "metrics.csv" else {
            let x = try Data(contentsOf: a), y = try Data(contentsOf: b)
            #expect(
                x == y, "\(a.lastPathComponent) differs:\n\(String(decoding: x, as: UTF8.self))\nvs\n\(String(decoding: y, as: UTF8.self))",
                sourceLocation: sourceLocation)
            return
        }
        let x = try CSVReader.read(a), y = try CSVReader.read(b)
        #expect(x.first == MetricsRecorder.columns && y.first == MetricsRecorder.columns, sourceLocation: sourceLocation)
        let keep = MetricsRecorder.columns.indices.filter { !MetricsRecorder.timingColumns.contains(MetricsRecorder.columns[$0]) }
        let strip = { (rows: [[String]]) in rows.map { r in keep.map { r[$0] } } }
        #expect(
            x.count == y.count && strip(x) == strip(y), "metrics.csv differs apart from its timing columns",
            sourceLocation: sourceLocation)
    }

    static func expectResumeIsExact(config: ExperimentConfig, stops: [Int]) throws {
        let whole = Self.tempDir(), pieces = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: whole); try? FileManager.default.removeItem(at: pieces) }
        _ = try Runner.run(config, options: RunOptions(outDir: whole.path, progress: false))
        var options = RunOptions(outDir: pieces.path, progress: false)
        options.interruptAfterStep = stops[0]
        #expect(throws: RunInterrupted.self) { try Runner.run(config, options: options) }
        let info = try RunInfo.read(from: pieces.appendingPathComponent("run.json"))
        #expect(info.status == .interrupted && info.step == stops[0])
        for stop in stops.dropFirst() {
            options.interruptAfterStep = stop
            #expect(throws: RunInterrupted.self) { try Runner.resume(dir: pieces.path, options: options) }
        }
        options.interruptAfterStep = nil
        _ = try Runner.resume(dir: pieces.path, options: options)
        try expectSameRun(whole, pieces)
    }

    /// Expects the run folder `pieces` to hold what `whole` holds: the same visible files,
    /// summary.csv but its timing columns, every other CSV (but kernel-timings.csv) byte for
    /// byte (metrics.csv without its timing columns), and every model array bit for bit.
    static func expectSameRun(_ whole: URL, _ pieces: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: whole.path).filter { !$0.hasPrefix(".") }
        #expect(Set(files) == Set(try FileManager.default.contentsOfDirectory(atPath: pieces.path).filter { !$0.hasPrefix(".") }))
        // kernel-timings.csv holds timings; summary.csv is compared below without its timing columns,
        // metrics.csv without its wall seconds
        for f in files where f.hasSuffix(".csv") && f != "summary.csv" && f != "kernel-timings.csv" {
            try expectSameCSV(whole.appendingPathComponent(f), pieces.appendingPathComponent(f))
        }
        let sa = try CSVReader.read(whole.appendingPathComponent("summary.csv"))
        let sb = try CSVReader.read(pieces.appendingPathComponent("summary.csv"))
        for (i, column) in sa[0].enumerated() where !SummaryRow.timingColumns.contains(column) {
            #expect(sa[1][i] == sb[1][i], "summary.csv \(column)")
        }
        for f in files where f.hasSuffix(".h5") {
            let a = try HDF5Arrays.all(whole.appendingPathComponent(f).path)
            let b = try HDF5Arrays.all(pieces.appendingPathComponent(f).path)
            #expect(a == b, "\(f) arrays differ after resume")
        }
    }

    /// `--resume` with a config.json edited after the checkpoint: refused in one line naming the
    /// first key that differs, before anything in the folder changes; with the value restored
    /// the run resumes to what an uninterrupted run writes.
    @Test func resumeRefusesAnEditedConfig() throws {
        let whole = Self.tempDir(), pieces = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: whole); try? FileManager.default.removeItem(at: pieces) }
        let config = try Self.config(epochs: 2)
        _ = try Runner.run(config, options: RunOptions(outDir: whole.path, progress: false))
        var options = RunOptions(outDir: pieces.path, progress: false)
        options.interruptAfterStep = 50
        #expect(throws: RunInterrupted.self) { try Runner.run(config, options: options) }
        options.interruptAfterStep = nil
        let url = pieces.appendingPathComponent("config.json")
        let original = try Data(contentsOf: url)
        let text = String(decoding: original, as: UTF8.self)
        #expect(text.contains(#""learning_rate" : 0.05"#))
        try Data(text.replacingOccurrences(of: #""learning_rate" : 0.05"#, with: #""learning_rate" : 0.1"#).utf8).write(to: url)
        let snapshot = { (dir: URL) throws -> [String: Data] in
            var files: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name != RunFolder.lockName {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path, isDirectory: &isDir), !isDir.boolValue {
                    files[name] = try Data(contentsOf: dir.appendingPathComponent(name))
                }
            }
            return files
        }
        let before = try snapshot(pieces)
        let error = #expect(throws: RunFolderError.self) { try Runner.resume(dir: pieces.path, options: options) }
        #expect(error == .configEditedSinceCheckpoint(configPath: url.path, key: "training.learning_rate", checkpoint: "0.05", now: "0.1"))
        #expect(
            error?.description
                == "\(url.path): key 'training.learning_rate' is 0.1, but the run's checkpoint was taken with 0.05; a resumed run "
                + "keeps its config: restore the value, or start a new run (another --out, or --force)")
        #expect(try snapshot(pieces) == before)
        try original.write(to: url)
        _ = try Runner.resume(dir: pieces.path, options: options)
        try Self.expectSameRun(whole, pieces)
    }

    /// The first differing key of two JSON documents, depth first in sorted key order.
    @Test func firstDifferenceNamesTheKey() throws {
        let a = Data(#"{"b": {"x": 1, "y": [1, 2, 3]}, "c": "s", "a": true}"#.utf8)
        let diff = { (b: String) in try ConfigLoader.firstDifference(a, Data(b.utf8)) }
        #expect(try diff(#"{"a": true, "b": {"x": 1, "y": [1, 2, 3]}, "c": "s"}"#) == nil)
        #expect(try diff(#"{"a": true, "b": {"x": 1, "y": [1, 5, 3]}, "c": "t"}"#).map { [$0.key, $0.a, $0.b] } == ["b.y[1]", "2", "5"])
        #expect(try diff(#"{"a": true, "b": {"y": [1, 2, 3]}, "c": "s"}"#).map { [$0.key, $0.a, $0.b] } == ["b.x", "1", "absent"])
        #expect(try diff(#"{"a": true, "b": {"x": 1, "y": [1, 2]}, "c": "s"}"#).map { [$0.key, $0.a, $0.b] } == ["b.y[2]", "3", "absent"])
        #expect(try diff(#"{"a": true, "b": {"x": 1, "y": [1, 2, 3]}, "c": "s", "d": null}"#).map(\.key) == "d")
    }

    /// One resume case per registered method: a config and the steps at which the run stops.
    /// A new method fails `everyMethodResumesExactly` until it has an entry here.
    static let methodResumeCases: [String: @Sendable () throws -> (config: ExperimentConfig, stops: [Int])] = [
        "dense": { (try config(epochs: 3), [30, 50]) },
        // 40 steps per epoch: stops in the training, in round 1's retraining and in round 2's
        "han": {
            (
                try config(
                    #"""
                    , "pruning": {"method": "han", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
                      "han": {"rule": "sparsity", "rounds": 2, "retrain": "2ep", "retrain_learning_rate": 0.01,
                              "curve": {"enabled": true, "from": 0.5, "to": 0.9, "step": 0.2}}}
                    """#, epochs: 2), [50, 85, 150]
            )
        },
        "dynamic": {
            (
                try config(
                    #"""
                    , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
                      "dynamic": {"criterion": "linear", "cubic": {"start": "10it", "end": "90it", "every": "5it", "max_per_check": 0.3},
                                  "linear": {"stats_every": "2it", "window": 5, "horizon": "20it"}}},
                      "recording": {"enabled": true, "every": "7it", "samples_per_layer": 20}
                    """#, epochs: 3), [45, 97]
            )
        },
        // soft FPGM filter pruning on a small conv net: stops in training and in fine-tuning
        "structured": {
            let json = ConvRunTests.config(
                """
                {"method": "structured", "structured": {"criterion": "fpgm", "ratio": 0.5, "layers": ["conv1", "conv2"], "finetune": "1ep"}}
                """)
            return (try ConfigLoader.decode(Data(json.utf8)), [25, 45])
        },
        // filters and neurons leave the network on the cubic ramp, scored by their trajectories:
        // stops before the first removal, between removals and after the last
        "units": {
            let json = ConvRunTests.config(
                #"""
                {"method": "units", "units": {"score": "trajectory", "layers": ["conv1", "conv2", "fc1"], "ratio": 0.5, "window": 5,
                  "cubic": {"start": "5it", "end": "30it", "every": "5it", "max_per_check": 0.3}}}
                """#, layers: ConvRunTests.bnLayers)
            return (try ConfigLoader.decode(Data(json.utf8)), [4, 17, 33])
        },
    ]

    /// Every registered method, stopped at its case's steps, resumes to what an uninterrupted
    /// run writes.
    @Test(arguments: MethodRegistry.names)
    func everyMethodResumesExactly(method: String) throws {
        let make = try #require(Self.methodResumeCases[method], "\(method): no resume case in methodResumeCases")
        let (config, stops) = try make()
        #expect(config.pruning.method == method)
        try Self.expectResumeIsExact(config: config, stops: stops)
    }

    /// Batch norm running statistics and dropout stream positions are checkpointed.
    @Test func batchNormAndDropoutResumeExactly() throws {
        let json = ConvRunTests.config(
            """
            {"method": "structured", "structured": {"criterion": "l1", "ratio": 0.5, "layers": ["conv1", "conv2"], "finetune": "1ep"}}
            """, layers: ConvRunTests.bnLayers)
        try Self.expectResumeIsExact(config: try ConfigLoader.decode(Data(json.utf8)), stops: [25, 45])
    }

    /// Every registered criterion on the cubic schedule, stopped mid-ramp: whatever a criterion
    /// accumulates must be in its checkpoint. Trajectory criteria get a short window, so their
    /// statistics are in use at the stop.
    @Test(arguments: CriterionRegistry.names)
    func everyCriterionResumesExactly(criterion: String) throws {
        let entry = try #require(CriterionRegistry.entry(named: criterion))
        let window =
            entry.settingsType.keyHelp.contains { $0.key == "stats_every" }
            ? #", "\#(criterion)": {"stats_every": "2it", "window": 5}"# : ""
        try Self.expectResumeIsExact(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
              "dynamic": {"criterion": "\#(criterion)", "cubic": {"start": "10it", "end": "90it", "every": "5it", "max_per_check": 0.3}\#(window)}}
            """#, stops: [61])
    }

    /// Every registered schedule with a criterion it accepts.
    @Test(arguments: ScheduleRegistry.names)
    func everyScheduleResumesExactly(schedule: String) throws {
        let entry = try #require(ScheduleRegistry.entry(named: schedule))
        let criterion = try #require(CriterionRegistry.all.first { !entry.needsFinished || $0.decidesFinished })
        try Self.expectResumeIsExact(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
              "dynamic": {"criterion": "\#(criterion.name)", "schedule": "\#(schedule)",
                          "cubic": {"start": "10it", "end": "90it", "every": "5it", "max_per_check": 0.3}}}
            """#, stops: [61])
    }

    /// Extrapolate-and-freeze: frozen weights, their values and the predictor are checkpointed.
    @Test func freezingResumesExactly() throws {
        try Self.expectResumeIsExact(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
              "dynamic": {"criterion": "magnitude", "cubic": {"start": "10it", "end": "90it", "every": "5it", "max_per_check": 0.3},
                          "freeze": {"enabled": true, "start": "20it", "every": "10it", "r2": 0.5, "stats_every": "2it", "window": 5}}}
            """#, stops: [45, 75])
    }
}

/// Every dataset of an HDF5 file, by path, as Double values (exact for float32 and the index
/// types), for comparisons of whole model files.
enum HDF5Arrays {
    static func all(_ path: String) throws -> [String: [Double]] {
        let file = try HDF5File(path: path)
        var out: [String: [Double]] = [:]
        func walk(_ group: String) throws {
            for d in try file.datasetNames(in: group) {
                let name = group == "/" ? d : "\(group)/\(d)"
                out[name] = try file.read(name, as: Double.self).values
            }
            for g in try file.groupNames(in: group) { try walk(group == "/" ? g : "\(group)/\(g)") }
        }
        try walk("/")
        return out
    }
}

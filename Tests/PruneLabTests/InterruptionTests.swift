import Testing
import Foundation
import TensorCore
@testable import Experiments
@testable import Sweeps
@testable import Reports

/// Real signals to the real binary, and comparisons that pick up where they stopped.
@Suite struct InterruptionTests {
    static func waitFor(_ timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// SIGINT and SIGTERM: the run finishes its step, says `interrupted` with the step, exits
    /// 130 / 143; `--resume` then finishes it with the summary an uninterrupted run writes.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signalStopsTheRunAndResumeFinishesIt(signal: Int32, status: Int32) throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sig-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = root.appendingPathComponent("c.json")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try EndToEndTests.mnistConfig(epochs: 6).write(to: config, atomically: true, encoding: .utf8)
        let dir = root.appendingPathComponent("run")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["run", config.path, "--out", dir.path, "--no-progress", "--set", "training.threads=1"]
        p.environment = CLITests.sameKernelEnvironment
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // wait for the first checkpoint (end of epoch 1), then signal
        let checkpoint = dir.appendingPathComponent("checkpoint.h5")
        #expect(Self.waitFor(120) { FileManager.default.fileExists(atPath: checkpoint.path) || !p.isRunning })
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationStatus == status)
        let info = try RunInfo.read(from: dir.appendingPathComponent("run.json"))
        #expect(info.status == .interrupted && (info.step ?? 0) > 0)
        #expect(try Inspect.report(runDir: dir.path).contains("status interrupted"))
        let resume = Process()
        resume.executableURL = exe
        resume.arguments = ["run", "--resume", dir.path, "--no-progress"]
        resume.environment = CLITests.sameKernelEnvironment
        resume.standardOutput = FileHandle.nullDevice
        resume.standardError = FileHandle.nullDevice
        try resume.run()
        resume.waitUntilExit()
        #expect(resume.terminationStatus == 0)
        // the reference: the same config, uninterrupted, in this process
        let whole = root.appendingPathComponent("whole")
        let c = try ConfigLoader.load(path: config.path, overrides: ["training.threads=1"])
        _ = try Runner.run(c, options: RunOptions(outDir: whole.path, progress: false))
        let a = try CSVReader.read(whole.appendingPathComponent("summary.csv"))
        let b = try CSVReader.read(dir.appendingPathComponent("summary.csv"))
        for (i, column) in a[0].enumerated() where !SummaryRow.timingColumns.contains(column) {
            #expect(a[1][i] == b[1][i], "summary.csv \(column)")
        }
        try RunFolderTests.expectSameCSV(whole.appendingPathComponent("metrics.csv"), dir.appendingPathComponent("metrics.csv"))
    }

    /// SIGKILL after the trajectory files are finished and before the model files are written
    /// (the process kills itself there, `--kill-at`): `--resume` leaves the finished
    /// trajectories.csv and layer-trajectories.csv as they are and completes the folder an
    /// uninterrupted run writes, with a checkpoint (resumed from the last epoch) and without
    /// one (run again from the start).
    @Test(arguments: [true, false])
    func killAfterTrajectoriesAreFinishedResumesExactly(checkpoints: Bool) throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kill9-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let config = root.appendingPathComponent("c.json")
        let recording = #", "recording": {"enabled": true, "every": "7it", "samples_per_layer": 20}"#
        try EndToEndTests.mnistConfig(recording + #", "checkpoint": {"enabled": \#(checkpoints)}"#, epochs: 2)
            .write(to: config, atomically: true, encoding: .utf8)
        let dir = root.appendingPathComponent("run")
        let launch = { (args: [String]) throws -> Process in
            let p = Process()
            p.executableURL = exe
            p.arguments = args + ["--no-progress"]
            p.environment = CLITests.sameKernelEnvironment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p
        }
        let killed = try launch([
            "run", config.path, "--out", dir.path, "--set", "training.threads=1", "--kill-at", RunStage.trajectoriesFinished.rawValue,
        ])
        #expect(killed.terminationReason == .uncaughtSignal && killed.terminationStatus == SIGKILL)
        let fm = FileManager.default
        let has = { (name: String) in fm.fileExists(atPath: dir.appendingPathComponent(name).path) }
        #expect(has("trajectories.csv") && has("layer-trajectories.csv") && !has(".trajectories.csv.partial"))
        #expect(!has("model.h5") && !has("summary.csv") && has(CheckpointFile.name) == checkpoints)
        #expect(try RunInfo.read(from: dir.appendingPathComponent("run.json")).status == .running)
        let finished = try Data(contentsOf: dir.appendingPathComponent("trajectories.csv"))
        // resumed twice: the first resume is killed at the same point again
        let again = try launch(["run", "--resume", dir.path, "--kill-at", RunStage.trajectoriesFinished.rawValue])
        #expect(again.terminationReason == .uncaughtSignal && again.terminationStatus == SIGKILL)
        #expect(try Data(contentsOf: dir.appendingPathComponent("trajectories.csv")) == finished)
        let resumed = try launch(["run", "--resume", dir.path])
        #expect(resumed.terminationReason == .exit && resumed.terminationStatus == 0)
        #expect(try RunInfo.read(from: dir.appendingPathComponent("run.json")).status == .completed)
        let whole = root.appendingPathComponent("whole")
        let c = try ConfigLoader.load(path: config.path, overrides: ["training.threads=1"])
        _ = try Runner.run(c, options: RunOptions(outDir: whole.path, progress: false))
        try RunFolderTests.expectSameRun(whole, dir)
    }

    /// A comparison whose arm was interrupted resumes that arm, reuses the finished ones, and
    /// writes the comparison an uninterrupted one writes.
    @Test func compareResumesUnfinishedAndSkipsFinishedArms() throws {
        let base = try CompareTests.base()
        let a = FileManager.default.temporaryDirectory.appendingPathComponent("cmpr-\(UUID().uuidString)")
        let b = FileManager.default.temporaryDirectory.appendingPathComponent("cmpr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let arms = ["han", "linear"]
        try Compare.run(base: base, seeds: [2], methods: arms, outDir: a.path, force: false)
        // b: the linear arm was stopped after step 55 by a signal
        let config0 = try ConfigLoader.decode(base)
        let linear = try #require(try Compare.arms(for: config0).first { $0.name == "linear" })
        var options = RunOptions(outDir: b.appendingPathComponent("linear-seed2").path, progress: false)
        options.interruptAfterStep = 55
        #expect(throws: RunInterrupted.self) {
            try Runner.run(try Compare.config(base, arm: linear, seed: 2, name: config0.name), options: options)
        }
        try Compare.run(base: base, seeds: [2], methods: arms, outDir: b.path, force: false)
        let csv = { (d: URL) in try String(contentsOf: d.appendingPathComponent("comparison.csv"), encoding: .utf8) }
        #expect(try csv(a) == csv(b))
        let info = try RunInfo.read(from: b.appendingPathComponent("linear-seed2/run.json"))
        #expect(info.status == .completed && info.resumed == 1)
        // run again: every arm is complete and is read back, not re-run
        let ended = try RunInfo.read(from: b.appendingPathComponent("han-seed2/run.json")).ended
        try Compare.run(base: base, seeds: [2], methods: arms, outDir: b.path, force: false)
        #expect(try RunInfo.read(from: b.appendingPathComponent("han-seed2/run.json")).ended == ended)
        #expect(try csv(a) == csv(b))
    }
}

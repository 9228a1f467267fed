import Testing
import Foundation
@testable import Experiments
@testable import Sweeps

/// Points that ended short of their target sparsity, diverged or failed: named in the sweep's
/// console summary and by `prunelab sweep status`, exit status 1 unless `--allow-short` (short
/// points only); and each point's `logs/<point>.log` holds its progress lines and warnings.
@Suite struct SweepAttentionTests {
    /// `magnitude` cannot reach 0.5 in three checks of at most 1% each.
    static let short =
        #""pruning.dynamic.cubic.start": "1it", "pruning.dynamic.cubic.end": "3it", "pruning.dynamic.cubic.every": "1it", "pruning.dynamic.cubic.max_per_check": 0.01"#

    static func binary() throws -> URL { try #require(CLITests.binary, "the prunelab executable was not built next to the tests") }

    /// Each output line of `sweep status` as (state, point).
    static func status(_ exe: URL, _ out: URL) throws -> [String: String] {
        let r = try TestSupport.run(exe.path, ["sweep", "status", out.path])
        #expect(r.status == 0, "sweep status reports; it exits 0: \(r.errors)")
        var states: [String: String] = [:]
        for line in r.output.split(separator: "\n") where line.contains("\t") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            states[String(f[1])] = String(f[0])
        }
        return states
    }

    /// Two short-of-target and diverged points among four, with `--jobs 2`: the console names
    /// each with its state, the last stderr line is one error counting them, `sweep status`
    /// says the same, `--allow-short` does not excuse the diverged ones; each point's log holds
    /// its per-epoch progress line, and the short point's log its warning.
    @Test func shortAndDivergedPointsAreNamedAndFailTheSweep() throws {
        let exe = try Self.binary()
        let dir = SweepTests.temp("attention")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try SweepTests.sweepFile(
            #""axes": {"arm": ["dense", "magnitude"], "training.learning_rate": [0.05, 100000]}, "set": {"# + Self.short + "}", in: dir)
        let out = dir.appendingPathComponent("out")
        let r = try TestSupport.run(exe.path, ["sweep", path, "--out", out.path, "--jobs", "2"])
        #expect(r.status == 1)
        let lastError = r.errors.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastError.hasPrefix("prunelab: error: 3 point(s) need attention (1 short, 2 diverged), first "), "\(r.errors)")
        #expect(lastError.contains("--allow-short"))
        let names = try SweepPlan.read(dir: out).points.map(\.name)
        let expected = [
            names[0]: "done", names[1]: "diverged", names[2]: "short", names[3]: "diverged",
        ]
        for (point, state) in expected where state != "done" {
            #expect(r.output.contains("\n\(state)\t\(point)\t") || r.output.hasPrefix("\(state)\t\(point)\t"), "\(point): \(r.output)")
        }
        #expect(r.output.contains("reached sparsity 0.0") && r.output.contains("training diverged at step"))
        #expect(try Self.status(exe, out) == expected)
        let allowed = try TestSupport.run(exe.path, ["sweep", path, "--out", out.path, "--allow-short"])
        #expect(allowed.status == 1 && allowed.errors.contains("2 point(s) need attention (2 diverged)"), "\(allowed.errors)")
        #expect(allowed.output.contains("short\t\(names[2])\t"), "short points are still listed")
        // the logs: each run's progress lines (one per epoch) and warnings
        let logs = try names.map { try String(contentsOf: out.appendingPathComponent("logs/\($0).log"), encoding: .utf8) }
        #expect(logs[0].contains(" ep 1 4/4 ") && logs[0].contains("\(names[0]): ran"), "\(logs[0])")
        #expect(logs[0].components(separatedBy: "\n\(names[0]): ran").count == 2, "the job's lines once: \(logs[0])")
        #expect(logs[2].contains(" ep 1 4/4 ") && logs[2].contains("warning: \(names[2]): magnitude: the pruned layers reached sparsity"))
        #expect(logs[1].contains("prunelab: error: training diverged at step"), "\(logs[1])")
    }

    /// A sweep whose only fault is a short point exits 1, and 0 with `--allow-short`; run in this
    /// process (one job), its log holds the same lines as a parallel job's.
    @Test func allowShortAcceptsShortPointsOnly() throws {
        let exe = try Self.binary()
        let dir = SweepTests.temp("allow-short")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try SweepTests.sweepFile(#""axes": {"arm": ["magnitude"]}, "set": {"# + Self.short + "}", in: dir)
        let out = dir.appendingPathComponent("out")
        let strict = try TestSupport.run(exe.path, ["sweep", path, "--out", out.path])
        #expect(strict.status == 1 && strict.errors.contains("1 point(s) need attention (1 short)"), "\(strict.errors)")
        let allowed = try TestSupport.run(exe.path, ["sweep", path, "--out", out.path, "--allow-short"])
        #expect(allowed.status == 0, "\(allowed.errors)")
        #expect(allowed.output.contains("short\tmagnitude\treached sparsity"), "\(allowed.output)")
        let log = try String(contentsOf: out.appendingPathComponent("logs/magnitude.log"), encoding: .utf8)
        #expect(log.contains(" ep 1 4/4 ") && log.contains("warning: magnitude: magnitude: the pruned layers reached sparsity"), "\(log)")
        #expect(log.contains("magnitude: ran") && log.contains("magnitude: already complete"))
    }

    /// A task run on its own (as a SLURM array task is) writes its point's log itself.
    @Test func aTaskOnItsOwnWritesItsPointLog() throws {
        let dir = SweepTests.temp("task-log")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try SweepTests.sweepFile(#""axes": {"arm": ["magnitude"]}, "set": {"# + Self.short + "}", in: dir)
        let options = SweepOptions(outDir: dir.appendingPathComponent("out").path)
        let plan = try Sweep.prepare(try SweepSpec.load(path: path), options: options, threads: nil)
        try Sweep.runTask(dir: options.outDir, index: 0, force: false)
        try Sweep.runTask(dir: options.outDir, index: 0, force: false)
        let name = plan.points[0].name
        let log = try String(contentsOf: options.dir.appendingPathComponent("logs/\(name).log"), encoding: .utf8)
        #expect(log.contains(" ep 1 4/4 ") && log.contains("warning: \(name): magnitude: the pruned layers reached sparsity"), "\(log)")
        #expect(log.hasSuffix("\(name): ran\n\(name): already complete\n"), "\(log)")
    }

    /// A point whose run failed (its data folder is missing) is named as failed and fails the
    /// sweep; an interrupted run is `failed` in `sweep status`.
    @Test func failedPointsAreNamed() throws {
        let exe = try Self.binary()
        let dir = SweepTests.temp("failed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try SweepTests.sweepFile(#""axes": {"data.dir": ["no-such-mnist"], "arm": ["dense"]}"#, in: dir)
        let out = dir.appendingPathComponent("out")
        let r = try TestSupport.run(exe.path, ["sweep", path, "--out", out.path, "--allow-short"])
        let point = try #require(try SweepPlan.read(dir: out).points.first?.name)
        #expect(r.status == 1 && r.errors.contains("1 point(s) need attention (1 failed)"), "\(r.errors)")
        #expect(r.output.contains("failed\t\(point)\t") && r.output.contains("no-such-mnist"), "\(r.output)")
        // an interrupted point
        let ok = try SweepTests.sweepFile(#""axes": {"arm": ["dense"]}"#, in: dir)
        let spec = try SweepSpec.load(path: ok)
        let b = SweepOptions(outDir: dir.appendingPathComponent("b").path)
        let plan = try Sweep.prepare(spec, options: b, threads: nil)
        var stopped = RunOptions(outDir: b.dir.appendingPathComponent(plan.points[0].name).path, progress: false)
        stopped.interruptAfterStep = 2
        #expect(throws: RunInterrupted.self) { try Runner.run(plan.points[0].config, options: stopped) }
        #expect(try Self.status(exe, b.dir) == [plan.points[0].name: "failed"])
        let entries = try SweepStatus.read(dir: b.outDir)
        #expect(SweepStatus.attention(entries, allowShort: true).map(\.point) == [plan.points[0].name])
    }
}

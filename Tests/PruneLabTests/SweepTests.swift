import Testing
import Foundation
import Schema
@testable import Experiments
@testable import Sweeps
@testable import Reports

/// Sweep files, plans, skip-and-resume, parallel jobs and the SLURM script.
@Suite struct SweepTests {
    static func temp(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(label)-\(UUID().uuidString)", isDirectory: true)
    }

    /// A folder holding `base.json` (a tiny MNIST run) and `sweep.json` with `body` after `"base"`.
    static func sweepFile(_ body: String, in dir: URL, epochs: Int = 1) throws -> String {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = EndToEndTests.mnistConfig(
            #", "pruning": {"target_sparsity": 0.5, "han": {"rounds": 1, "retrain": "2it"}}"#, epochs: epochs
        ).replacingOccurrences(of: "\"train_limit\": 2000, \"test_limit\": 500", with: "\"train_limit\": 200, \"test_limit\": 100")
        try base.write(to: dir.appendingPathComponent("base.json"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("sweep.json").path
        try "{\"base\": \"base.json\", \(body)}".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The product enumerates `arm` first and `seed` last whatever the file's order; folder names
    /// come from the values; a zip group moves together; the base resolves from the sweep's folder.
    @Test func pointsAreTheProductInAxisOrder() throws {
        let dir = Self.temp("plan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(
            #""axes": {"seed": [1, 2], "training.learning_rate": [0.05, 0.1], "training.momentum": [0.9, 0.5], "arm": ["dense", "han"]},"#
                + #" "zip": [["training.learning_rate", "training.momentum"]], "set": {"training.batch_size": 40}"#, in: dir)
        let plan = try SweepPlan.make(try SweepSpec.load(path: path))
        #expect(plan.axes == ["arm", "training.learning_rate", "training.momentum", "seed"])
        var expected: [String] = []
        for arm in ["dense", "han"] {
            for (lr, m) in [("0.05", "0.9"), ("0.1", "0.5")] {
                for seed in [1, 2] { expected.append("\(arm)-learning_rate\(lr)-momentum\(m)-seed\(seed)") }
            }
        }
        #expect(plan.points.map(\.name) == expected)
        let p = plan.points[7]
        #expect(p.config.pruning.method == "han" && p.config.seed == 2 && p.config.training.batchSize == .samples(40))
        #expect(p.config.training.learningRate == 0.1 && p.config.training.momentum == 0.5)
        #expect(p.config.name == "e2e-han")
        // a relative data.dir in an axis is taken from the sweep file's folder; the folder name uses its last component
        let rel = try Self.sweepFile(#""axes": {"data.dir": ["mnist", "/abs/fashion-mnist"], "seed": [1]}"#, in: dir)
        let paths = try SweepPlan.make(try SweepSpec.load(path: rel)).points
        #expect(paths.map(\.config.data.dir) == [dir.appendingPathComponent("mnist").path, "/abs/fashion-mnist"])
        #expect(paths.map(\.name) == ["dirmnist-seed1", "dirfashion-mnist-seed1"])
    }

    /// Bad sweep files are one-line ConfigErrors naming the file and the key.
    @Test func badSweepFilesNameTheKey() throws {
        let dir = Self.temp("bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            (#""axes": {"seed": [1]}, "sets": {}"#, "sets"),
            (#""axes": {"seed": 1}"#, "axes.seed"),
            (#""axes": {}"#, "axes"),
            (#""axes": {"seed": [1, 1]}"#, "axes.seed"),
            (#""axes": {"seed": [1], "training.epochs": [1, 2]}, "zip": [["seed", "training.epochs"]]"#, "zip[0]"),
            (#""axes": {"arm": ["gmp"]}"#, "axes.arm"),
            (#""axes": {"arm": ["han", "han"], "training.epochs": [1, 1]}, "zip": [["arm", "training.epochs"]]"#, "zip[0]"),
            (#""axes": {"training.lerning_rate": [0.1]}"#, "training.lerning_rate"),
            (#""axes": {"training.momentum": [0.5, 1.5]}"#, "training.momentum"),
            (#""axes": {"seed": [1]}, "slurm": {"cpus_per_task": 0}"#, "slurm.cpus_per_task"),
        ]
        for (body, key) in cases {
            let path = try Self.sweepFile(body, in: dir)
            do {
                _ = try SweepPlan.make(try SweepSpec.load(path: path))
                Issue.record("no error for \(body)")
            } catch let e as ConfigError {
                #expect(e.path == key, "\(body): \(e)")
                #expect(e.file == path, "\(body): \(e)")
                #expect(!"\(e)".contains("\n"))
            }
        }
    }

    /// With parallel jobs, points whose config says 0 threads get cores / jobs; more is refused.
    @Test func threadsAreDividedAmongJobs() throws {
        let dir = Self.temp("threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(#""axes": {"seed": [1, 2]}"#, in: dir)
        let spec = try SweepSpec.load(path: path)
        #expect(Sweep.threads(jobs: 2, cores: 2) == 1 && Sweep.threads(jobs: 3, cores: 8) == 2 && Sweep.threads(jobs: 1, cores: 8) == nil)
        #expect(try SweepPlan.make(spec, threads: 1).points.allSatisfy { $0.config.training.threads == 1 })
        #expect(try SweepPlan.make(spec).points.allSatisfy { $0.config.training.threads == 0 })
        let explicit = try Self.sweepFile(#""axes": {"seed": [1]}, "set": {"training.threads": 2}"#, in: dir)
        #expect(throws: ConfigError.self) { try SweepPlan.make(try SweepSpec.load(path: explicit), threads: 1) }
        #expect(throws: ConfigError.self) {
            try Sweep.prepare(spec, options: SweepOptions(outDir: dir.path, jobs: 3, cores: 2), threads: 1)
        }
    }

    /// The plan survives a write and read, and the SLURM script runs one array task per point.
    @Test func planRoundTripsAndSlurmScriptListsEveryPoint() throws {
        let dir = Self.temp("slurm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(
            #""axes": {"arm": ["dense", "han", "magnitude"], "seed": [1, 2]}, "slurm": {"max_parallel": 2, "time": "00:05:00"}"#, in: dir)
        let spec = try SweepSpec.load(path: path)
        let out = dir.appendingPathComponent("out")
        let options = SweepOptions(outDir: out.path, executable: URL(fileURLWithPath: "/opt/prune lab/prunelab"))
        let plan = try Sweep.prepare(spec, options: options, threads: spec.slurm.cpusPerTask)
        let read = try SweepPlan.read(dir: out)
        #expect(read.points.map(\.name) == plan.points.map(\.name) && read.axes == plan.axes)
        #expect(
            try read.points.map { try ConfigLoader.canonicalJSON($0.config) }
                == plan.points.map { try ConfigLoader.canonicalJSON($0.config) })
        let r = try Slurm.submit(plan, options: options, resources: spec.slurm, dryRun: true)
        #expect(r.jobID == nil && r.tasks == 6)
        let script = try String(contentsOf: r.script, encoding: .utf8)
        #expect(script.contains("#SBATCH --array=0-5%2\n") && script.contains("#SBATCH --time=00:05:00\n"))
        #expect(script.contains("exec '/opt/prune lab/prunelab' sweep task '\(out.path)' \"$SLURM_ARRAY_TASK_ID\"\n"))
        #expect(Slurm.arraySpec([1, 3, 4], maxParallel: nil) == "1,3,4" && Slurm.arraySpec([2, 3, 4], maxParallel: 1) == "2-4%1")
        #expect(try SweepStatus.read(dir: out.path).allSatisfy { $0.state == .missing })
    }

    /// A non-empty folder that is neither a sweep nor a comparison folder is refused, untouched.
    @Test func foreignFolderIsRefused() throws {
        let dir = Self.temp("foreign")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(#""axes": {"seed": [1]}"#, in: dir)
        #expect(throws: RunError.self) {
            try Sweep.prepare(try SweepSpec.load(path: path), options: SweepOptions(outDir: dir.path), threads: nil)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["base.json", "sweep.json"])
    }

    /// Deterministic columns of runs.csv (timing aside), by point.
    static func results(_ dir: URL) throws -> [String: [String: String]] {
        let rows = try CSVReader.read(dir.appendingPathComponent("runs.csv"))
        var out: [String: [String: String]] = [:]
        for r in rows.dropFirst() {
            let d = Dictionary(uniqueKeysWithValues: zip(rows[0], r)).filter { !SummaryRow.timingColumns.contains($0.key) }
            out[d["point"]!] = d
        }
        return out
    }

    /// An interrupted sweep re-run skips its completed points, resumes the interrupted one and
    /// ends with the results of an uninterrupted sweep; a third run re-runs nothing.
    @Test func rerunSkipsCompletedAndResumesInterrupted() throws {
        let dir = Self.temp("resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(
            #""axes": {"arm": ["dense", "magnitude"], "seed": [1, 2]}, "set": {"pruning.dynamic.cubic.start": "1it", "pruning.dynamic.cubic.end": "3it", "pruning.dynamic.cubic.every": "1it"}"#,
            in: dir)
        let spec = try SweepSpec.load(path: path)
        let a = SweepOptions(outDir: dir.appendingPathComponent("a").path), b = SweepOptions(outDir: dir.appendingPathComponent("b").path)
        let planA = try Sweep.prepare(spec, options: a, threads: nil)
        #expect(try Sweep.run(planA, options: a).line == "4 ran, 0 resumed, 0 already complete, 0 failed")
        try Aggregate.write(dir: a.outDir)
        // b: point 0 finished, point 3 stopped by a signal after step 2
        let planB = try Sweep.prepare(spec, options: b, threads: nil)
        try Sweep.runTask(dir: b.outDir, index: 0, force: false)
        var stopped = RunOptions(outDir: b.dir.appendingPathComponent(planB.points[3].name).path, progress: false)
        stopped.interruptAfterStep = 2
        #expect(throws: RunInterrupted.self) { try Runner.run(planB.points[3].config, options: stopped) }
        #expect(try SweepStatus.read(dir: b.outDir).map(\.state) == [.done, .missing, .missing, .failed])
        let ended = try RunInfo.read(from: b.dir.appendingPathComponent("\(planB.points[0].name)/run.json")).ended
        let report = try Sweep.run(planB, options: b)
        #expect(report.actions[planB.points[0].name] == .reused && report.actions[planB.points[3].name] == .resumed)
        #expect(report.line == "2 ran, 1 resumed, 1 already complete, 0 failed")
        #expect(try RunInfo.read(from: b.dir.appendingPathComponent("\(planB.points[0].name)/run.json")).ended == ended)
        try Aggregate.write(dir: b.outDir)
        #expect(try Self.results(a.dir) == Self.results(b.dir))
        #expect(try Sweep.run(planB, options: b).line == "0 ran, 0 resumed, 4 already complete, 0 failed")
    }

    /// `--jobs 2` through the real binary: two processes, one thread each, the same results as
    /// the points run one after another in this process with one thread.
    @Test func parallelJobsMatchSequentialRuns() throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let dir = Self.temp("jobs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(#""axes": {"arm": ["dense", "han"], "seed": [1, 2]}"#, in: dir)
        let out = dir.appendingPathComponent("par")
        let r = try TestSupport.run(
            exe.path, ["sweep", path, "--out", out.path, "--jobs", "2"], environment: CLITests.sameKernelEnvironment)
        #expect(r.status == 0, "\(r.errors.suffix(600))")
        #expect(try SweepStatus.read(dir: out.path).allSatisfy { $0.state == .done })
        let seq = SweepOptions(outDir: dir.appendingPathComponent("seq").path)
        let spec = try SweepSpec.load(path: path)
        let plan = try Sweep.prepare(spec, options: seq, threads: 1)
        _ = try Sweep.run(plan, options: seq)
        try Aggregate.write(dir: seq.outDir)
        #expect(try Self.results(out) == Self.results(seq.dir))
        let agg = { (d: URL) in try String(contentsOf: d.appendingPathComponent("aggregate.csv"), encoding: .utf8) }
        let noTiming = { (s: String) in
            s.split(separator: "\n").filter { l in !SummaryRow.timingColumns.contains { l.contains(",\($0),") } }
        }
        #expect(try noTiming(agg(out)) == noTiming(agg(seq.dir)))
    }

    /// `kill` (SIGTERM, passed on to the jobs) or `kill -9` (the jobs see their parent gone and
    /// stop themselves) of a `--jobs 2` sweep stops its jobs resumably; the same command then
    /// finishes the sweep without re-running the points that were complete.
    @Test(arguments: [SIGTERM, SIGKILL])
    func killedParallelSweepFinishesOnRerun(signal: Int32) throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let dir = Self.temp("kill")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(#""axes": {"arm": ["dense", "han"], "seed": [1, 2, 3]}"#, in: dir, epochs: 3)
        let out = dir.appendingPathComponent("out")
        let log = dir.appendingPathComponent("sweep.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        func sweep() throws -> Process {
            let p = Process()
            p.executableURL = exe
            p.arguments = ["sweep", path, "--out", out.path, "--jobs", "2"]
            p.standardOutput = FileHandle.nullDevice
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            p.standardError = handle
            try p.run()
            return p
        }
        let first = try sweep()
        let deadline = Date().addingTimeInterval(120)
        // until a point is complete and a han point (the longer runs) is under way
        func ready() -> Bool {
            guard let st = try? SweepStatus.read(dir: out.path) else { return false }
            return st.contains { $0.state == .done } && st.contains { $0.state == .running && $0.point.hasPrefix("han") }
        }
        while Date() < deadline, first.isRunning, !ready() { usleep(50_000) }
        usleep(300_000)
        let runningAtKill = try SweepStatus.read(dir: out.path).filter { $0.state == .running }.map(\.point)
        kill(first.processIdentifier, signal)
        first.waitUntilExit()
        // after kill -9 the orphaned jobs notice within half a second, checkpoint and stop
        let killed = Date()
        while Date().timeIntervalSince(killed) < 30, try SweepStatus.read(dir: out.path).contains(where: { $0.state == .running }) {
            usleep(100_000)
        }
        #expect(Date().timeIntervalSince(killed) < 10, "jobs still running \(Date().timeIntervalSince(killed)) s after the sweep died")
        let before = try SweepStatus.read(dir: out.path)
        // a point that was mid-run was stopped, not left to finish
        #expect(before.contains { runningAtKill.contains($0.point) && $0.state != .done }, "\(runningAtKill) \(before)")
        let ended = try Dictionary(
            uniqueKeysWithValues: before.filter { $0.state == .done }.map {
                ($0.point, try RunInfo.read(from: out.appendingPathComponent("\($0.point)/run.json")).ended)
            })
        #expect(!ended.isEmpty)
        #expect(!before.contains { $0.state == .running })
        let second = try sweep()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        #expect(try SweepStatus.read(dir: out.path).allSatisfy { $0.state == .done })
        for (point, end) in ended {
            #expect(try RunInfo.read(from: out.appendingPathComponent("\(point)/run.json")).ended == end, "\(point) was re-run")
        }
    }

    /// A point folder holding a run of another config is refused with the first key that differs
    /// and both values, the stored one first; the same config is reused as it is.
    @Test func anotherConfigErrorNamesTheKeyAndBothValues() throws {
        let dir = Self.temp("otherconfig")
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = EndToEndTests.mnistConfig(epochs: 1)
            .replacingOccurrences(of: "\"train_limit\": 2000, \"test_limit\": 500", with: "\"train_limit\": 100, \"test_limit\": 50")
        let first = try ConfigLoader.decode(Data(text.utf8))
        let second = try ConfigLoader.decode(Data(text.utf8), overrides: ["training.learning_rate=0.02"])
        let point = dir.appendingPathComponent("p").path
        #expect(try PointRun.runOrReuse(first, dir: point, force: false, command: "test") == .ran)
        #expect(try PointRun.runOrReuse(first, dir: point, force: false, command: "test") == .reused)
        do {
            try PointRun.runOrReuse(second, dir: point, force: false, command: "test")
            Issue.record("a run of another config was not refused")
        } catch let e as RunFolderError {
            #expect(e == .holdsOtherConfig(path: point, key: "training.learning_rate", there: "0.05", now: "0.02"))
            let message = "\(e)"
            #expect(message.contains("key 'training.learning_rate' is 0.05 there, 0.02 now"), "\(message)")
            #expect(message.contains("pass --force"))
            #expect(!message.contains("\n"))
        }
    }

    /// `inspect` on a sweep folder lists every arm with its seeds, completed count and mean
    /// headline numbers (checked against the points' own summary.csv), and the missing point in
    /// the counts; on a point's run folder it names the criterion and schedule.
    @Test func inspectSummarisesASweepFolder() throws {
        let dir = Self.temp("inspect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(
            #""axes": {"arm": ["dense", "magnitude"], "seed": [1, 2]}, "set": {"pruning.dynamic.cubic.start": "1it", "pruning.dynamic.cubic.end": "3it", "pruning.dynamic.cubic.every": "1it"}"#,
            in: dir)
        let options = SweepOptions(outDir: dir.appendingPathComponent("out").path)
        let plan = try Sweep.prepare(try SweepSpec.load(path: path), options: options, threads: nil)
        for i in 0..<3 { try Sweep.runTask(dir: options.outDir, index: i, force: false) }
        let text = try Inspect.report(runDir: options.outDir)
        // magnitude's three checks of at most 10% each end short of 0.5: completed, but short
        #expect(
            text.hasPrefix("sweep of 4 points (axes arm, seed): done 2, short 1, diverged 0, running 0, failed 0, missing 1"), "\(text)")
        #expect(text.contains("\nshort \(plan.points[2].name): reached sparsity"))
        let summary = { (i: Int) throws -> [String: String] in
            let rows = try CSVReader.read(options.dir.appendingPathComponent("\(plan.points[i].name)/summary.csv"))
            return Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        }
        let dense = try [0, 1].map { try #require(Double(try summary($0)["test_accuracy"] ?? "")) }
        let rows = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let denseRow = try #require(rows.first { $0.first == "dense" })
        #expect(denseRow[1] == "1,2" && denseRow[2] == "2/2" && denseRow[3] == "0")
        #expect(denseRow[4] == String(format: "%.4f", (dense[0] + dense[1]) / 2))
        let magnitudeRow = try #require(rows.first { $0.first == "magnitude" })
        #expect(magnitudeRow[2] == "1/2")
        #expect(magnitudeRow[4] == String(format: "%.4f", try #require(Double(try summary(2)["test_accuracy"] ?? ""))))
        let run = try Inspect.report(runDir: options.dir.appendingPathComponent(plan.points[2].name).path)
        let labels = try summary(2)
        let criterion = try #require(labels["criterion"]), schedule = try #require(labels["schedule"])
        #expect(!criterion.isEmpty && run.contains("method dynamic  criterion \(criterion)  schedule \(schedule)  "), "\(run)")
        let accuracy = try #require(Double(labels["test_accuracy"] ?? "")), seconds = try #require(Double(labels["wall_seconds"] ?? ""))
        #expect(run.contains("test_accuracy \(String(format: "%.4f", accuracy))  "))
        #expect(run.contains("wall_seconds \(String(format: "%.2f", seconds))  "))
    }

    /// The plan file keeps the command line and its `--set` overrides; a point's run.json names
    /// that command and the point, whether run in this process or as a task.
    @Test func planKeepsTheCommandAndPointsNameIt() throws {
        let dir = Self.temp("command")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(#""axes": {"arm": ["dense"], "seed": [1, 2]}"#, in: dir)
        var options = SweepOptions(outDir: dir.appendingPathComponent("out").path)
        options.command = "prunelab compare base.json --out out --set training.momentum=0.8"
        options.overrides = ["training.momentum=0.8"]
        let plan = try Sweep.prepare(try SweepSpec.load(path: path), options: options, threads: nil)
        let stored = try SweepPlan.read(dir: options.dir)
        #expect(stored.command == options.command && stored.overrides == ["training.momentum=0.8"])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: options.dir.appendingPathComponent(SweepPlan.fileName)))
                as? [String: Any])
        #expect(json["command"] as? String == options.command && json["set"] as? [String] == ["training.momentum=0.8"])
        try Sweep.runTask(dir: options.outDir, index: 1, force: false)
        let info = try RunInfo.read(from: options.dir.appendingPathComponent("\(plan.points[1].name)/run.json"))
        #expect(info.command.contains(options.command!) && info.command.contains("point dense-seed2"), "\(info.command)")
        var here = plan
        here.points = [plan.points[0]]
        _ = try Sweep.run(here, options: options)
        let first = try RunInfo.read(from: options.dir.appendingPathComponent("\(plan.points[0].name)/run.json"))
        #expect(first.command == "\(options.command!), point dense-seed1")
    }

    /// The sweep file's account, qos, constraint, job name and set-up lines reach `sweep.sbatch`:
    /// one `#SBATCH` line each, the set-up lines in order after `set -euo pipefail` and before the
    /// task command.
    @Test func slurmScriptCarriesAccountQosConstraintAndSetup() throws {
        let dir = Self.temp("slurmextra")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.sweepFile(
            #""axes": {"seed": [1, 2]}, "slurm": {"account": "proj42", "qos": "short", "constraint": "avx512", "#
                + #""job_name": "lenet-sweep", "setup": ["module load openblas/0.3", "export OMP_PROC_BIND=close"]}"#,
            in: dir)
        let spec = try SweepSpec.load(path: path)
        #expect(spec.slurm.account == "proj42" && spec.slurm.qos == "short" && spec.slurm.constraint == "avx512")
        let script = Slurm.script(
            dir: URL(fileURLWithPath: "/runs/s"), indices: [0, 1], resources: spec.slurm,
            executable: URL(fileURLWithPath: "/bin/prunelab"), force: false)
        let lines = script.split(separator: "\n").map(String.init)
        for line in ["#SBATCH --account=proj42", "#SBATCH --qos=short", "#SBATCH --constraint=avx512", "#SBATCH --job-name=lenet-sweep"] {
            #expect(lines.filter { $0 == line }.count == 1, "\(line) in \(script)")
        }
        #expect(!script.contains("prunelab-sweep"))
        let strict = try #require(lines.firstIndex(of: "set -euo pipefail"))
        let module = try #require(lines.firstIndex(of: "module load openblas/0.3"))
        let export = try #require(lines.firstIndex(of: "export OMP_PROC_BIND=close"))
        let exec = try #require(lines.firstIndex { $0.hasPrefix("exec ") })
        #expect(strict < module && module < export && export < exec && exec == lines.count - 1)
        #expect(lines.firstIndex { !$0.hasPrefix("#") }! > lines.lastIndex { $0.hasPrefix("#SBATCH") }!)
        // defaults: no account, qos or constraint lines, the default job name, no set-up lines
        let plain = Slurm.script(
            dir: URL(fileURLWithPath: "/runs/s"), indices: [0], resources: SlurmResources(),
            executable: URL(fileURLWithPath: "/bin/prunelab"), force: false)
        #expect(plain.contains("#SBATCH --job-name=prunelab-sweep\n"))
        #expect(!plain.contains("--account") && !plain.contains("--qos") && !plain.contains("--constraint"))
        #expect(plain.hasSuffix("set -euo pipefail\nexec '/bin/prunelab' sweep task '/runs/s' \"$SLURM_ARRAY_TASK_ID\"\n"))
    }

    /// A value that would break its `#SBATCH` line, or a set-up entry of several lines, is a
    /// one-line error naming the key.
    @Test func badSlurmValuesNameTheKey() throws {
        let dir = Self.temp("slurmbad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, String)] = [
            (#""account": "proj 42""#, "slurm.account", "spaces"),
            (#""qos": "short\nlong""#, "slurm.qos", "one line"),
            (#""constraint": """#, "slurm.constraint", "empty"),
            (#""job_name": 3"#, "slurm.job_name", "string"),
            (#""setup": "module load x""#, "slurm.setup", "list"),
            (#""setup": ["module load x", "a\nb"]"#, "slurm.setup[1]", "one line"),
            (#""setup": ["  "]"#, "slurm.setup[0]", "empty"),
        ]
        for (slurm, key, mention) in cases {
            let path = try Self.sweepFile(#""axes": {"seed": [1]}, "slurm": {"# + slurm + "}", in: dir)
            do {
                _ = try SweepSpec.load(path: path)
                Issue.record("no error for \(slurm)")
            } catch let e as ConfigError {
                #expect(e.path == key && "\(e)".contains(mention) && !"\(e)".contains("\n"), "\(slurm): \(e)")
            }
        }
        #expect(SlurmResources.wordProblem("proj42") == nil && SlurmResources.lineProblem("export A='b c'") == nil)
    }
}

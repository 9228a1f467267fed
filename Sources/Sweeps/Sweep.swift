import Experiments
import Foundation
import Schema
import Training

#if canImport(Glibc)
    import Glibc
#endif

/// How a sweep runs on this machine.
public struct SweepOptions: Sendable {
    /// The sweep folder: one run folder per point, `sweep-plan.json`, `logs/`, the aggregate.
    public var outDir: String
    /// Points run at once, each in its own `prunelab sweep task` process when more than one.
    public var jobs: Int
    /// Re-run completed points.
    public var force: Bool
    /// The `prunelab` executable that parallel jobs and SLURM tasks start.
    public var executable: URL?
    /// The cores jobs share (`jobs × threads ≤ cores`).
    public var cores: Int
    /// Draw each point's progress bar (with one job; parallel jobs log to `logs/`).
    public var progress = false
    /// The command line that started the compare or sweep, and its `--set` overrides: stored in
    /// `sweep-plan.json` and named in each point's `run.json`.
    public var command: String?
    public var overrides: [String] = []

    public init(
        outDir: String, jobs: Int = 1, force: Bool = false, executable: URL? = nil,
        cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        self.outDir = outDir
        self.jobs = jobs
        self.force = force
        self.executable = executable
        self.cores = cores
    }

    public var dir: URL { URL(fileURLWithPath: outDir, isDirectory: true) }
}

/// What a sweep did, point by point.
public struct SweepReport: Sendable {
    public var actions: [String: PointRun.Action] = [:]
    /// Points that failed, with their one-line error.
    public var failed: [(name: String, error: String)] = []

    /// `k ran, k resumed, k already complete, k failed`.
    public var line: String {
        let count = { (a: PointRun.Action) in self.actions.values.filter { $0 == a }.count }
        return "\(count(.ran)) ran, \(count(.resumed)) resumed, \(count(.reused)) already complete, \(failed.count) failed"
    }
}

/// Runs a sweep's points on this machine: in this process (`--jobs 1`) or as parallel
/// `prunelab sweep task DIR INDEX` processes, skipping completed points and resuming the rest.
///
/// Parallel jobs use Foundation's `Process`: the toolchain ships it, and the sweep only starts a
/// child, sends it a signal and polls for its exit; swift-subprocess (async-only API) would
/// add a dependency and an async entry point to an otherwise synchronous CLI for no gain here.
public enum Sweep {
    /// BLAS/data-parallel threads per point for `jobs` parallel jobs (nil: leave the config's).
    public static func threads(jobs: Int, cores: Int) -> Int? { jobs > 1 ? max(1, cores / jobs) : nil }

    /// Checks the options, opens the sweep folder and writes the plan of `spec` into it.
    public static func prepare(_ spec: SweepSpec, options: SweepOptions, threads: Int?) throws -> SweepPlan {
        guard options.jobs >= 1 else { throw ConfigError(path: "--jobs", "must be >= 1, got \(options.jobs)") }
        guard options.jobs <= options.cores else {
            throw ConfigError(path: "--jobs", "\(options.jobs) jobs exceed the \(options.cores) cores (jobs × threads ≤ cores)")
        }
        var plan = try SweepPlan.make(spec, threads: threads)
        plan.command = options.command
        plan.overrides = options.overrides
        try open(options.dir)
        try plan.write(to: options.dir)
        return plan
    }

    /// Files a sweep (or a comparison) writes beside its run folders.
    static let ownFiles = SweepFiles.own

    /// Creates the sweep folder. A non-empty folder is accepted when it holds a sweep plan or
    /// only PruneLab run folders and sweep files (a comparison folder of an earlier version);
    /// anything else is refused, untouched.
    static func open(_ dir: URL) throws {
        let fm = FileManager.default
        let items = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
        let foreign = items.filter { item in
            !ownFiles.contains(item) && !item.hasPrefix(".")
                && !fm.fileExists(atPath: dir.appendingPathComponent(item).appendingPathComponent("run.json").path)
        }
        if !items.contains(SweepPlan.fileName), let f = foreign.sorted().first {
            throw RunError("\(dir.path): not a sweep folder (holds \(f), no \(SweepPlan.fileName)); give a new or empty folder")
        }
        do { try fm.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true) } catch {
            throw RunError("\(dir.path): cannot create the sweep folder: \(error.localizedDescription)")
        }
    }

    /// Runs every point not yet complete; a failed point is reported and the others go on. A
    /// signal (SIGINT, SIGTERM) stops the sweep: running points are interrupted and resumable.
    public static func run(_ plan: SweepPlan, options: SweepOptions, log: (String) -> Void = { _ in }) throws -> SweepReport {
        options.jobs == 1 ? try runHere(plan, options: options, log: log) : try runParallel(plan, options: options, log: log)
    }

    /// Runs the points one after another in this process; each point's progress lines,
    /// warnings and outcome also go to its `logs/<point>.log`, as a parallel job's do.
    static func runHere(_ plan: SweepPlan, options: SweepOptions, log: (String) -> Void) throws -> SweepReport {
        var report = SweepReport()
        var counter = RunCounter(total: plan.points.count)
        for p in plan.points {
            let dir = options.dir.appendingPathComponent(p.name).path
            let pointLog = try PointLog(logURL(p, options))
            do {
                log("\(counter.next()) \(p.name) ▶ \(dir)")
                let action = try PointRun.runOrReuse(
                    p.config, dir: dir, force: options.force, progress: options.progress, command: plan.pointCommand(p.name),
                    logLine: { pointLog.write($0) },
                    warn: {
                        log("warning: \(p.name): \($0)")
                        pointLog.write("warning: \(p.name): \($0)\n")
                    })
                report.actions[p.name] = action
                pointLog.write("\(p.name): \(action == .reused ? "already complete" : action.rawValue)\n")
                log(counter.finished("\(p.name) (\(action == .reused ? "already complete" : action.rawValue))", PointRun.headline(dir)))
            } catch let e as RunInterrupted {
                pointLog.write("prunelab: \(e)\n")
                throw e
            } catch {
                report.failed.append((p.name, "\(error)"))
                pointLog.write("prunelab: error: \(error)\n")
                log("\(p.name): failed: \(error)")
            }
        }
        return report
    }

    /// The points to start, leaving out completed ones (unless `force`), with the action each will be.
    static func pending(_ plan: SweepPlan, options: SweepOptions, report: inout SweepReport) -> [(SweepPoint, PointRun.Action)] {
        plan.points.compactMap { p in
            let folder = options.dir.appendingPathComponent(p.name, isDirectory: true)
            let info = try? RunInfo.read(from: folder.appendingPathComponent("run.json"))
            if !options.force, info?.status == .completed, (try? PointRun.holdsSameConfig(p.config, folder: folder)) == true {
                report.actions[p.name] = .reused
                return nil
            }
            return (p, info == nil || options.force ? .ran : .resumed)
        }
    }

    static func runParallel(_ plan: SweepPlan, options: SweepOptions, log: (String) -> Void) throws -> SweepReport {
        guard let exe = options.executable else { throw RunError("--jobs \(options.jobs): the prunelab executable is unknown") }
        var report = SweepReport()
        var queue = pending(plan, options: options, report: &report)[...]
        log("\(plan.points.count) points, \(queue.count) to run, \(options.jobs) at a time")
        var running: [(point: SweepPoint, action: PointRun.Action, process: Process)] = []
        var counter = RunCounter(total: queue.count)
        while !queue.isEmpty || !running.isEmpty {
            if let sig = Interruption.pending {
                for r in running { kill(r.process.processIdentifier, sig) }
                for r in running { r.process.waitUntilExit() }
                throw RunError("sweep interrupted by signal \(sig); re-run the same command to continue")
            }
            while running.count < options.jobs, let (p, action) = queue.popFirst() {
                running.append((p, action, try start(p, exe: exe, options: options)))
            }
            usleep(100_000)
            for (i, r) in running.enumerated().reversed() where !r.process.isRunning {
                running.remove(at: i)
                let status = r.process.terminationStatus
                if status == 0 {
                    report.actions[r.point.name] = r.action
                    let numbers = PointRun.headline(options.dir.appendingPathComponent(r.point.name).path)
                    log(counter.finished("\(r.point.name) (\(r.action.rawValue))", numbers))
                } else {
                    let detail = lastLine(of: logURL(r.point, options))
                    report.failed.append((r.point.name, detail))
                    counter.done += 1
                    log("\(r.point.name): failed (exit \(status)): \(detail)")
                }
            }
        }
        return report
    }

    static func logURL(_ p: SweepPoint, _ options: SweepOptions) -> URL {
        options.dir.appendingPathComponent("logs/\(p.name).log")
    }

    /// Starts `prunelab sweep task DIR INDEX` with its output (progress lines, warnings, the
    /// outcome or the error) appended to `logs/<name>.log`.
    static func start(_ p: SweepPoint, exe: URL, options: SweepOptions) throws -> Process {
        let out = try PointLog(logURL(p, options)).handle
        let proc = Process()
        proc.executableURL = exe
        proc.arguments = ["sweep", "task", options.dir.path, String(p.index)] + (options.force ? ["--force"] : [])
        var env = ProcessInfo.processInfo.environment
        env[parentVariable] = String(getpid())
        proc.environment = env
        proc.standardOutput = out
        proc.standardError = out
        do { try proc.run() } catch { throw RunError("\(exe.path): cannot start: \(error.localizedDescription)") }
        return proc
    }

    /// The last non-empty line of a log file (a failed task's one-line error).
    static func lastLine(of url: URL) -> String {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init) ?? "no output"
        return line.hasPrefix("prunelab: error: ") ? String(line.dropFirst("prunelab: error: ".count)) : line
    }

    /// Set in a local job's environment to the sweep's pid: the job watches its parent and, once
    /// the sweep has died (even by kill -9, which it cannot pass on), stops itself resumably with
    /// SIGTERM instead of running on unowned.
    static let parentVariable = "PRUNELAB_SWEEP_PID"

    /// In a job started by a local sweep: a one-line error when the sweep has already gone, else
    /// a watcher thread that sends this process SIGTERM once its parent is no longer the sweep
    /// (polled every 0.5 s: the kernel's parent-death signal follows the starting *thread*,
    /// which in-process callers such as the tests do not control).
    static func followParent() throws {
        guard let value = ProcessInfo.processInfo.environment[parentVariable], let pid = Int32(value) else { return }
        guard getppid() == pid else { throw RunError("the sweep (pid \(pid)) that started this job has exited") }
        Thread.detachNewThread {
            while getppid() == pid { usleep(500_000) }
            kill(getpid(), SIGTERM)
        }
    }

    /// One point of the plan in `dir`, by index: what a parallel job or a SLURM array task runs.
    /// `progress`: the run's progress lines on stderr (a job's stderr is its log).
    @discardableResult
    public static func runTask(
        dir: String, index: Int, force: Bool, progress: Bool = false, log: (String) -> Void = { _ in }
    ) throws -> PointRun.Action {
        try followParent()
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        let plan = try SweepPlan.read(dir: url)
        guard plan.points.indices.contains(index) else {
            throw RunError("\(dir): the sweep has points 0-\(plan.points.count - 1), not \(index)")
        }
        let p = plan.points[index]
        // a local sweep sends this job's output to logs/<point>.log; a SLURM task's goes to
        // SLURM's log, so the task writes the point's log itself
        let pointLog = try ownLog(p, dir: url)
        func both(_ line: String) {
            log(line)
            pointLog?.write(line + "\n")
        }
        var logLine: (@Sendable (String) -> Void)?
        if let pointLog { logLine = { pointLog.write($0) } }
        do {
            let action = try PointRun.runOrReuse(
                p.config, dir: url.appendingPathComponent(p.name).path, force: force, progress: progress,
                command: "prunelab sweep task \(dir) \(index) (" + plan.pointCommand(p.name) + ")",
                logLine: logLine, warn: { both("warning: \(p.name): \($0)") })
            both("\(p.name): \(action == .reused ? "already complete" : action.rawValue)")
            return action
        } catch {
            pointLog?.write((error is RunInterrupted ? "prunelab: " : "prunelab: error: ") + "\(error)\n")
            throw error
        }
    }

    /// `logs/<point>.log` for a task not started by a local sweep (whose output is that log already).
    static func ownLog(_ p: SweepPoint, dir: URL) throws -> PointLog? {
        guard ProcessInfo.processInfo.environment[parentVariable] == nil else { return nil }
        let logs = dir.appendingPathComponent("logs", isDirectory: true)
        try? FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        return try PointLog(logs.appendingPathComponent("\(p.name).log"))
    }
}

/// A point's `logs/<point>.log`, opened for appending (a re-run adds to what earlier runs wrote).
final class PointLog: @unchecked Sendable {
    // @unchecked: `handle` is only written to, and FileHandle writes are atomic per call; it
    // closes when released (a parallel job's Process holds it as its output).
    let handle: FileHandle

    init(_ url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let h = try? FileHandle(forWritingTo: url) else { throw RunError("\(url.path): cannot write") }
        h.seekToEndOfFile()
        handle = h
    }

    func write(_ text: String) { try? handle.write(contentsOf: Data(text.utf8)) }
}

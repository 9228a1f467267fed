import Experiments
import Foundation
import Schema

/// The resources of each SLURM array task: a sweep file's `slurm` block, overridden by flags.
public struct SlurmResources: Sendable, Equatable {
    /// `--partition` (none: the cluster's default).
    public var partition: String?
    /// `--time` per task, SLURM's format (`00:30:00`, `1-00:00:00`).
    public var time: String?
    /// `--mem` per task (`2G`).
    public var mem: String?
    /// `--cpus-per-task`; also each point's `training.threads` when its config says 0.
    public var cpusPerTask = 1
    /// `%M` of `--array`: tasks running at once (nil: no limit).
    public var maxParallel: Int?
    /// `--account`, `--qos` and `--constraint` (none: the cluster's default).
    public var account: String?
    public var qos: String?
    public var constraint: String?
    /// `--job-name` (default `prunelab-sweep`).
    public var jobName: String?
    /// Shell lines run before the task command (`module load ...`, `export ...`), in order.
    public var setup: [String] = []

    public init() {}

    static let keys = [
        "partition", "time", "mem", "cpus_per_task", "max_parallel", "account", "qos", "constraint", "job_name", "setup",
    ]

    /// Why `value` cannot be a one-word `#SBATCH` value (empty, or holding a space or line
    /// break); nil when it can.
    public static func wordProblem(_ value: String) -> String? {
        if value.isEmpty { return "must not be empty" }
        if value.contains(where: \.isNewline) { return "must be one line, got a line break" }
        if value.contains(where: \.isWhitespace) { return "must not contain spaces, got \"\(value)\"" }
        return nil
    }

    /// Why `line` cannot be a set-up line of the script (empty, or more than one line); nil when it can.
    public static func lineProblem(_ line: String) -> String? {
        if line.trimmingCharacters(in: .whitespaces).isEmpty { return "must not be empty" }
        if line.contains(where: \.isNewline) { return "must be one line; give each line as its own entry" }
        return nil
    }

    /// From a sweep file's `slurm` object (nil: defaults).
    init(json: Any?) throws {
        guard let json else { return }
        guard let d = json as? [String: Any] else { throw ConfigError(path: "slurm", "must be an object") }
        for k in d.keys.sorted() where !Self.keys.contains(k) {
            throw ConfigError(path: "slurm.\(k)", "unknown key; slurm has \(Self.keys.joined(separator: ", "))")
        }
        func text(_ k: String) throws -> String? {
            guard let v = d[k] else { return nil }
            guard let s = v as? String else { throw ConfigError(path: "slurm.\(k)", "must be a string") }
            if let problem = Self.wordProblem(s) { throw ConfigError(path: "slurm.\(k)", problem) }
            return s
        }
        func count(_ k: String) throws -> Int? {
            guard let v = d[k] else { return nil }
            guard let n = v as? Int, n >= 1 else { throw ConfigError(path: "slurm.\(k)", "must be an integer >= 1") }
            return n
        }
        partition = try text("partition")
        time = try text("time")
        mem = try text("mem")
        cpusPerTask = try count("cpus_per_task") ?? 1
        maxParallel = try count("max_parallel")
        account = try text("account")
        qos = try text("qos")
        constraint = try text("constraint")
        jobName = try text("job_name")
        if let v = d["setup"] {
            guard let lines = v as? [Any] else { throw ConfigError(path: "slurm.setup", "must be a list of shell lines") }
            setup = try lines.enumerated().map { i, line in
                guard let s = line as? String else { throw ConfigError(path: "slurm.setup[\(i)]", "must be a string") }
                if let problem = Self.lineProblem(s) { throw ConfigError(path: "slurm.setup[\(i)]", problem) }
                return s
            }
        }
    }
}

/// The SLURM backend: one sbatch script whose array tasks are the sweep's unfinished points,
/// each running `prunelab sweep task DIR $SLURM_ARRAY_TASK_ID`.
public enum Slurm {
    public static let scriptName = SweepFiles.slurmScript

    /// The `--array` value: `0-K` when every point is pending, else the pending indices, with `%M`.
    public static func arraySpec(_ indices: [Int], maxParallel: Int?) -> String {
        precondition(!indices.isEmpty, "an array needs at least one task")
        let contiguous = indices == Array(indices[0]...indices[indices.count - 1])
        let list = contiguous ? "\(indices[0])-\(indices.last!)" : indices.map(String.init).joined(separator: ",")
        return list + (maxParallel.map { "%\($0)" } ?? "")
    }

    /// The sbatch script for `indices` of the sweep in `dir`.
    public static func script(dir: URL, indices: [Int], resources r: SlurmResources, executable: URL, force: Bool) -> String {
        var lines = [
            "#!/bin/bash",
            "# Written by prunelab sweep --backend slurm; one array task per sweep point.",
            "#SBATCH --job-name=\(r.jobName ?? "prunelab-sweep")",
            "#SBATCH --array=\(arraySpec(indices, maxParallel: r.maxParallel))",
            "#SBATCH --cpus-per-task=\(r.cpusPerTask)",
            "#SBATCH --ntasks=1",
            "#SBATCH --output=\(dir.path)/logs/slurm-%A_%a.log",
        ]
        if let p = r.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = r.time { lines.append("#SBATCH --time=\(t)") }
        if let m = r.mem { lines.append("#SBATCH --mem=\(m)") }
        if let a = r.account { lines.append("#SBATCH --account=\(a)") }
        if let q = r.qos { lines.append("#SBATCH --qos=\(q)") }
        if let c = r.constraint { lines.append("#SBATCH --constraint=\(c)") }
        lines.append("set -euo pipefail")
        lines += r.setup
        lines.append(
            "exec \(shellQuoted(executable.path)) sweep task \(shellQuoted(dir.path)) \"$SLURM_ARRAY_TASK_ID\"\(force ? " --force" : "")")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `s` in single quotes for bash.
    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Writes the script for the plan's unfinished points into `dir` and, unless `dryRun`,
    /// submits it with `sbatch --parsable`; returns the script's path and the job id.
    public static func submit(
        _ plan: SweepPlan, options: SweepOptions, resources: SlurmResources, dryRun: Bool
    ) throws -> (script: URL, jobID: String?, tasks: Int) {
        guard let exe = options.executable else { throw RunError("--backend slurm: the prunelab executable is unknown") }
        var report = SweepReport()
        let indices = Sweep.pending(plan, options: options, report: &report).map(\.0.index)
        let url = options.dir.appendingPathComponent(scriptName)
        guard !indices.isEmpty else { return (url, nil, 0) }
        try OutputFolder.write(
            Data(script(dir: options.dir, indices: indices, resources: resources, executable: exe, force: options.force).utf8), to: url)
        guard !dryRun else { return (url, nil, indices.count) }
        let out = try runSbatch(["--parsable", url.path])
        let id = out.split(separator: ";").first.map(String.init) ?? out
        return (url, id, indices.count)
    }

    /// Runs `sbatch` with `args`; its stdout, trimmed.
    static func runSbatch(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sbatch"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { throw RunError("sbatch: cannot start: \(error.localizedDescription)") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: stderr, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "exit \(p.terminationStatus)"
            throw RunError("sbatch failed: \(msg)")
        }
        return text
    }
}

import ArgumentParser
import Foundation
import Sweeps
import Experiments

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run every unfinished point of a sweep file (the default: `prunelab sweep SWEEP.json --out DIR`).")

    @Argument(help: "The sweep file (JSON): base, set, axes, zip, slurm; see README.")
    var sweep: String

    @Option(name: .long, help: "The sweep folder: one run folder per point.")
    var out: String

    @Option(help: "Points run at once as separate processes (jobs × threads ≤ cores).")
    var jobs = 1

    @Option(help: "local (this machine) or slurm (writes sweep.sbatch and submits it with sbatch).")
    var backend = "local"

    @Flag(name: .customLong("dry-run"), help: "List the points (slurm: write the plan and the script, do not submit).")
    var dryRun = false

    @Flag(help: "Re-run completed points.")
    var force = false

    @Flag(
        name: .customLong("allow-short"),
        help: "Exit 0 although points ended short of their target sparsity (they are still listed).")
    var allowShort = false

    @Option(help: "The baseline label of the aggregate (default: han when present).")
    var baseline: String?

    @OptionGroup var slurm: SlurmFlags

    func validate() throws {
        try requirePath(out, "--out", "runs/sweep")
        guard ["local", "slurm"].contains(backend) else { throw ValidationError("--backend is local or slurm, got \"\(backend)\"") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be >= 1, got \(jobs)") }
    }

    func run() throws {
        try reportingErrors {
            let spec = try SweepSpec.load(path: sweep)
            let resources = try slurm.applied(to: spec.slurm)
            var options = SweepOptions(outDir: out, jobs: jobs, force: force, executable: currentExecutable())
            options.command = CommandLine.arguments.joined(separator: " ")
            let threads = backend == "slurm" ? resources.cpusPerTask : Sweep.threads(jobs: jobs, cores: options.cores)
            if dryRun && backend == "local" {
                let plan = try SweepPlan.make(spec, threads: threads)
                for p in plan.points {
                    print("\(p.index)\t\(p.name)\t" + p.values.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                }
                print("\(plan.points.count) points")
                return
            }
            let plan = try Sweep.prepare(spec, options: options, threads: threads)
            if backend == "slurm" {
                let r = try Slurm.submit(plan, options: options, resources: resources, dryRun: dryRun)
                print(r.tasks == 0 ? "every point is complete" : "sbatch script: \(r.script.path) (\(r.tasks) array tasks)")
                if let id = r.jobID { print("submitted job \(id); watch it with: prunelab sweep status \(out)") }
                return
            }
            let report = try Sweep.run(plan, options: options) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            print("sweep \(out): \(report.line)")
            if !report.actions.isEmpty {
                let files = try Aggregate.write(dir: out, baseline: baseline)
                print("aggregate: " + files.map(\.path).joined(separator: ", "))
            }
            // every point short of its target, diverged or failed, named, and the exit status 1
            let entries = try SweepStatus.read(dir: out)
            let named = SweepStatus.attention(entries, failed: report.failed, allowShort: false)
            for e in named { print("\(e.state.rawValue)\t\(e.point)\t\(e.detail)\t(log: \(out)/logs/\(e.point).log)") }
            let line = SweepStatus.attentionLine(SweepStatus.attention(entries, failed: report.failed, allowShort: allowShort))
            if let line { throw SweepFailed(message: line) }
        }
    }
}

/// Flags that override a sweep file's `slurm` block.
struct SlurmFlags: ParsableArguments {
    @Option(help: "SLURM partition.") var partition: String?
    @Option(help: "SLURM time limit per task (00:30:00).") var time: String?
    @Option(help: "SLURM memory per task (2G).") var mem: String?
    @Option(name: .customLong("cpus-per-task"), help: "SLURM CPUs per task, also each point's threads.") var cpusPerTask: Int?
    @Option(name: .customLong("max-parallel"), help: "Array tasks running at once (the %M of --array).") var maxParallel: Int?
    @Option(help: "SLURM account to charge.") var account: String?
    @Option(help: "SLURM quality of service.") var qos: String?
    @Option(help: "SLURM node constraint (features).") var constraint: String?
    @Option(name: .customLong("job-name"), help: "SLURM job name (default prunelab-sweep).") var jobName: String?
    @Option(
        name: .customLong("setup"),
        help: "A shell line the script runs before each task (module load ..., export ...); repeatable, after the sweep file's.")
    var setup: [String] = []

    func applied(to base: SlurmResources) throws -> SlurmResources {
        var r = base
        if let partition { r.partition = partition }
        if let time { r.time = time }
        if let mem { r.mem = mem }
        if let cpusPerTask {
            guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task must be >= 1, got \(cpusPerTask)") }
            r.cpusPerTask = cpusPerTask
        }
        if let maxParallel {
            guard maxParallel >= 1 else { throw ValidationError("--max-parallel must be >= 1, got \(maxParallel)") }
            r.maxParallel = maxParallel
        }
        for (flag, value, key) in [
            ("--account", account, \SlurmResources.account), ("--qos", qos, \.qos), ("--constraint", constraint, \.constraint),
            ("--job-name", jobName, \.jobName),
        ] {
            guard let value else { continue }
            if let problem = SlurmResources.wordProblem(value) { throw ValidationError("\(flag) \(problem)") }
            r[keyPath: key] = value
        }
        for line in setup {
            if let problem = SlurmResources.lineProblem(line) { throw ValidationError("--setup \(problem)") }
        }
        r.setup += setup
        return r
    }
}

/// A sweep that ran with failed points: reported as one line, exit 1.
struct SweepFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// This process's executable, which parallel jobs and SLURM tasks start.
func currentExecutable() -> URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
}

import ArgumentParser
import Foundation
import Experiments

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run one experiment from a JSON config and write its run folder.")

    @Argument(help: "The experiment config (JSON); see configs/README.md.")
    var config: String?

    @Option(name: .long, help: "The run folder to write.")
    var out: String?

    @Option(name: .long, help: "Continue the interrupted or failed run in this folder from its last checkpoint (no config needed).")
    var resume: String?

    @OptionGroup var flags: RunFlags

    /// Fault injection: the process sends itself SIGKILL when the run reaches this stage.
    @Option(name: .customLong("kill-at"), help: .hidden)
    var killAt: RunStage?

    func validate() throws {
        try requirePath(out, "--out", "runs/lenet")
        try requirePath(resume, "--resume", "runs/lenet")
        try requirePath(config, "the config", "configs/mnist-lenet300-dense.json")
        if resume != nil {
            guard config == nil, out == nil, flags.overrides.isEmpty, !flags.force else {
                throw ValidationError("--resume DIR takes no config, --out, --set or --force: the folder holds the run's config")
            }
        } else {
            guard config != nil else { throw ValidationError("give a config (or --resume DIR)") }
            guard out != nil else { throw ValidationError("give --out DIR, the run folder to write") }
        }
    }

    /// A hook that ends the process with SIGKILL when the run reaches `target`.
    static func killing(at target: RunStage) -> @Sendable (RunStage) -> Void {
        { stage in
            if stage == target { kill(getpid(), SIGKILL) }
        }
    }

    func run() throws {
        try reportingErrors {
            let command = CommandLine.arguments.joined(separator: " ")
            let outcome: RunOutcome
            let stageReached = killAt.map(Self.killing(at:))
            if let resume {
                var options = RunOptions(outDir: resume, progress: !flags.noProgress, command: command)
                options.stageReached = stageReached
                outcome = try Runner.resume(dir: resume, options: options)
            } else {
                let cfg = try ConfigLoader.load(path: config!, overrides: flags.overrides)
                for w in ConfigLoader.unusedOverrides(cfg, overrides: flags.overrides) {
                    FileHandle.standardError.write(Data("prunelab: warning: \(w)\n".utf8))
                }
                var options = RunOptions(outDir: out!, force: flags.force, progress: !flags.noProgress, command: command)
                options.stageReached = stageReached
                options.configFile = config
                outcome = try Runner.run(cfg, options: options)
            }
            for w in outcome.warnings { FileHandle.standardError.write(Data("prunelab: warning: \(w)\n".utf8)) }
            print("run folder: \(outcome.folder.url.path)")
            print(outcome.summary.consoleLine)
        }
    }
}

extension RunStage: ExpressibleByArgument {}

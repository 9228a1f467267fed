import ArgumentParser
import Foundation
import Sweeps
import Experiments

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run several methods (arms) from one base config on the same seeds and initial weights.")

    @Argument(help: "The base config (its pruning block holds the sections of every method compared).")
    var config: String

    @Option(name: .long, help: "The comparison folder to write.")
    var out: String

    @Option(parsing: .unconditional, help: "Comma-separated seeds.")
    var seeds = "1,2,3"

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Comma-separated arms (see `prunelab list arms`): dense, han, a dynamic criterion (linear, magnitude, ...), criterion/schedule (linear/adaptive, snip/init), a unit criterion (l1, fpgm).",
            discussion: "Default: every arm marked default that applies (l1 and fpgm need conv layers)."))
    var methods: String?

    @Option(help: "The arm the Δ columns of comparison.md are taken against (default: han when compared, else the first arm).")
    var baseline: String?

    @OptionGroup var flags: RunFlags

    @Option(help: "Arms run at once as separate processes (jobs × threads ≤ cores); compare is a sweep preset.")
    var jobs = 1

    func validate() throws {
        try requirePath(out, "--out", "runs/compare")
        let list = seeds.split(separator: ",", omittingEmptySubsequences: false)
        guard !list.isEmpty, list.allSatisfy({ UInt64($0.trimmingCharacters(in: .whitespaces)) != nil }) else {
            throw ValidationError("--seeds takes comma-separated non-negative integers, got \"\(seeds)\"")
        }
        // the comparison tables index seeds as Int
        guard list.allSatisfy({ UInt64($0.trimmingCharacters(in: .whitespaces))! <= UInt64(Int.max) }) else {
            throw ValidationError("--seeds must be at most \(Int.max), got \"\(seeds)\"")
        }
    }

    func run() throws {
        try reportingErrors {
            let doc = try ConfigLoader.document(path: config, overrides: flags.overrides)
            let base = try ConfigLoader.decode(doc)
            let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            let methodList =
                try methods.map {
                    $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                }
                ?? Compare.defaultArms(for: base)
            try Compare.run(
                base: doc, seeds: seedList, methods: methodList, outDir: out, force: flags.force, jobs: jobs,
                executable: currentExecutable(), progress: !flags.noProgress, baseline: baseline,
                command: CommandLine.arguments.joined(separator: " "), overrides: flags.overrides
            ) {
                FileHandle.standardError.write(Data("\($0)\n".utf8))
            }
            print("comparison: \(out)/comparison.md, \(out)/comparison.csv, \(out)/timing.csv")
        }
    }
}

import ArgumentParser
import Foundation
import Sweeps
import Experiments

struct AggregateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract:
            "Write runs.csv, aggregate.csv (n, mean, std, 95% t-intervals, paired Δ vs a baseline), curve.csv and aggregate.md for a sweep folder."
    )

    @Argument(help: "The sweep folder.")
    var dir: String

    @Option(help: "The baseline label (default: han when present).")
    var baseline: String?

    func validate() throws { try requirePath(dir, "DIR", "runs/sweep") }

    func run() throws {
        try reportingErrors {
            let files = try Aggregate.write(dir: dir, baseline: baseline)
            for f in files { print(f.path) }
        }
    }
}

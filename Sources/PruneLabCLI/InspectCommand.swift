import ArgumentParser
import Foundation
import Experiments

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print a run's per-layer table (weights, nonzeros, FLOPs) and headline numbers.")

    @Argument(help: "A run folder written by `prunelab run`.")
    var runDir: String

    func run() throws {
        try reportingErrors { print(try Inspect.report(runDir: runDir)) }
    }
}

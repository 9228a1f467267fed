import ArgumentParser
import Foundation
import Reports
import Experiments

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract:
            "Print a run's per-layer table (weights, nonzeros, FLOPs) and headline numbers, or a compare or sweep folder's arms and states."
    )

    @Argument(help: "A run folder (`prunelab run`), or a compare or sweep folder.")
    var runDir: String

    func run() throws {
        try reportingErrors { print(try Inspect.report(runDir: runDir)) }
    }
}

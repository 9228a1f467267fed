import ArgumentParser
import Foundation
import Sweeps
import Experiments

struct SweepStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Report each point of a sweep folder as done, short (of its target sparsity), diverged, running, failed or missing.")

    @Argument(help: "The sweep folder.")
    var dir: String

    func run() throws {
        try reportingErrors {
            let entries = try SweepStatus.read(dir: dir)
            for e in entries { print("\(e.state.rawValue)\t\(e.point)" + (e.detail.isEmpty ? "" : "\t\(e.detail)")) }
            print(SweepStatus.counts(entries))
        }
    }
}

import ArgumentParser
import Foundation
import Experiments

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of configs (a sweep file's axes) locally or as a SLURM job array, then aggregate it.",
        subcommands: [SweepRunCommand.self, SweepStatusCommand.self, SweepTaskCommand.self],
        defaultSubcommand: SweepRunCommand.self)
}

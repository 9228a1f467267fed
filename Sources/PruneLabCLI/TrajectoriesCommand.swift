import ArgumentParser
import Foundation
import Experiments

struct TrajectoriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trajectories",
        abstract:
            "Export a subset of a run's trajectories.csv, or with --store one layer of trajectories.h5, as CSV (one layer, every K-th step)."
    )

    @Argument(help: "A run folder written with recording.enabled=true.")
    var runDir: String

    @Option(help: "Keep only this layer's rows (e.g. fc1).")
    var layer: String?

    @Option(parsing: .unconditional, help: "Keep only rows whose step is a multiple of this.")
    var every: Int?

    @Option(help: "Write the CSV here instead of stdout.")
    var out: String?

    @Flag(help: "Export every weight of --layer from trajectories.h5 (recording.format=hdf5) instead of trajectories.csv.")
    var store = false

    func validate() throws {
        try requirePath(out, "--out", "fc1.csv")
        if let every, every <= 0 { throw ValidationError("--every must be > 0, got \(every)") }
        if store && layer == nil { throw ValidationError("--store needs --layer (one layer's every weight)") }
    }

    func run() throws {
        try reportingErrors {
            let text =
                try store
                ? TrajectoryExport.fromStore(runDir: runDir, layer: layer ?? "", every: every)
                : TrajectoryExport.subset(runDir: runDir, layer: layer, every: every)
            if let out {
                try OutputFolder.write(Data(text.utf8), to: URL(fileURLWithPath: out))
                print(out)
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }
}

import ArgumentParser
import Foundation
import Sweeps
import Experiments

struct SweepTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Run one point of a prepared sweep folder (what parallel jobs and SLURM array tasks run).")

    @Argument(help: "The sweep folder (holds sweep-plan.json).")
    var dir: String

    @Argument(help: "The point's index (SLURM: $SLURM_ARRAY_TASK_ID).")
    var index: Int

    @Flag(help: "Re-run the point even if it is complete.")
    var force = false

    func run() throws {
        try reportingErrors {
            // progress, warnings and the outcome in order on stderr: a job's log (logs/<point>.log, SLURM's output)
            try Sweep.runTask(dir: dir, index: index, force: force, progress: true) {
                FileHandle.standardError.write(Data("\($0)\n".utf8))
            }
        }
    }
}

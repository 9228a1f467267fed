import ArgumentParser
import Experiments
import Foundation
import Schema

struct PredictabilityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predictability",
        abstract:
            "Measure how well each predictor (current |w|, the trajectory criteria, straight lines) foretells which weights survive training.",
        discussion: """
            Each RUN must be a finished run recorded with recording.enabled=true and recording.format=hdf5 \
            (every weight, or recording.store_samples of each layer). Writes predictability.csv, predictability.md \
            (recall of the final kept set and Spearman ρ at chosen epochs, over the runs, and each predictor's paired \
            difference from |w|) and one predictability-<layer>.svg per layer.
            """)

    @Argument(help: "Run folders (one per seed) recorded with trajectories.h5.")
    var runs: [String]

    @Option(help: "Folder for the outputs (created if missing; a file there that PruneLab did not write is never replaced).")
    var out: String

    @Option(help: "Target sparsity of every layer's final kept set (default: each run's configured targets).")
    var sparsity: Double?

    @Option(help: "Evaluate at records whose step is a multiple of this (`50it`, `1ep`).")
    var every: String = "50it"

    @Option(help: "Fixed horizons of the straight-line predictors, comma-separated (`1ep,5ep`).")
    var horizons: String = "1ep,5ep"

    @Option(help: "Epochs shown in the tables, comma-separated.")
    var epochs: String = "0.25,0.5,1,2,4,8,16"

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run folder") }
        if out.isEmpty { throw ValidationError("--out must name a folder") }
        if let s = sparsity, !(s >= 0 && s < 1) { throw ValidationError("--sparsity must be in [0, 1), got \(s)") }
        if (try? Schema.Duration(parsing: every))?.amount ?? 0 <= 0 {
            throw ValidationError("--every: \"\(every)\" is not a positive duration such as 50it or 1ep")
        }
        for h in horizons.split(separator: ",") where (try? Schema.Duration(parsing: String(h))) == nil {
            throw ValidationError("--horizons: \"\(h)\" is not a duration such as 200it or 1ep")
        }
        for e in epochs.split(separator: ",") where Double(e) == nil {
            throw ValidationError("--epochs: \"\(e)\" is not a number")
        }
    }

    func run() throws {
        try reportingErrors {
            let dir = URL(fileURLWithPath: out, isDirectory: true)
            try PredictabilityReport.prepare(dir)
            let hs = try horizons.split(separator: ",").map { try Schema.Duration(parsing: String($0)) }
            var all: [PredictabilityReport.RunRows] = []
            for (k, r) in runs.enumerated() {
                let url = URL(fileURLWithPath: r, isDirectory: true)
                FileHandle.standardError.write(Data("[\(k + 1)/\(runs.count)] \(r)\n".utf8))
                let info = try Predictability.RunInfo.of(run: url, sparsity: sparsity)
                let store = try Predictability.Store.read(url.appendingPathComponent("trajectories.h5"))
                let step = try Schema.Duration(parsing: every).steps(perEpoch: info.stepsPerEpoch)
                let rows = try Predictability.analyze(store, info, every: max(1, step), horizons: hs)
                all.append(.init(run: url.lastPathComponent, seed: info.seed, rows: rows))
            }
            let title = "What trajectories predict: \(runs.count) run\(runs.count == 1 ? "" : "s")"
            for f in try PredictabilityReport.write(
                all, epochs: epochs.split(separator: ",").compactMap { Double($0) }, title: title, to: dir)
            {
                print(f.path)
            }
        }
    }
}

import ArgumentParser
import Foundation
import Experiments

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time dense training epochs on MNIST (see experiments/bench_lenet300.py and bench_lenet5.py).")

    @Option(help: "The model preset: lenet-300-100 or lenet-5.") var model = "lenet-300-100"
    @Option(help: "The MNIST IDX folder.") var data = "data/mnist"
    @Option(name: .customLong("batch-size"), parsing: .unconditional) var batchSize = 128
    @Option(parsing: .unconditional, help: "Epochs per repeat.") var epochs = 1
    @Option(parsing: .unconditional, help: "Repeats (fresh model each).") var repeats = 5
    @Option(parsing: .unconditional, help: "Threads (0: one per core).") var threads = 0
    @Option(help: "data (batch split over threads, single-threaded BLAS) or blas (OpenBLAS threads).") var parallelism = "data"
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard ["lenet-300-100", "lenet-5"].contains(model) else { throw ValidationError("--model is lenet-300-100 or lenet-5") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be > 0, got \(batchSize)") }
        guard epochs > 0, repeats > 0 else { throw ValidationError("--epochs and --repeats must be > 0") }
        guard threads >= 0 else { throw ValidationError("--threads must be >= 0, got \(threads)") }
        guard ["data", "blas"].contains(parallelism) else { throw ValidationError("--parallelism is data or blas") }
    }

    func run() throws {
        try reportingErrors {
            let r = try Benchmark.epochs(model: model, dataDir: data, batchSize: batchSize, epochs: epochs,
                                           repeats: repeats, threads: threads, parallelism: parallelism)
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } else {
                print(String(format: "median epoch %.3f s  %.1f GFLOP/s  (SGEMM peak %.1f GFLOP/s, %@, %d threads)  peak RSS %.0f MiB",
                             r.medianEpochSeconds, r.gflops, r.sgemmPeakGflops, r.blasCore, r.threads, r.peakRssMb))
            }
        }
    }
}

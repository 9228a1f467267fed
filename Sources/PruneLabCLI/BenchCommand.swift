import ArgumentParser
import Foundation
import Experiments

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time dense training epochs on MNIST (see experiments/bench_lenet300.py and bench_lenet5.py).")

    @Option(help: "The model preset.") var model = BenchmarkSetup.Model.lenet300
    @Option(help: "The MNIST IDX folder.") var data = "data/mnist"
    @Option(name: .customLong("batch-size"), parsing: .unconditional) var batchSize = 128
    @Option(parsing: .unconditional, help: "Epochs per repeat.") var epochs = 1
    @Option(parsing: .unconditional, help: "Repeats (fresh model each).") var repeats = 5
    @Option(parsing: .unconditional, help: "Threads (0: one per core).") var threads = 0
    @Option(help: "data (batch split over threads, single-threaded BLAS) or blas (OpenBLAS threads).")
    var parallelism = TrainingConfig.Parallelism.data
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Comma-separated mask sparsities (e.g. 0,0.5,0.9): time epochs with fixed random masks, per kernel.")
    var sparsity: String?
    @Option(help: "Kernels for --sparsity: comma-separated dense, sparse, auto, measured.") var kernels = "dense,sparse,auto"
    @Flag(name: .customLong("print-blas-core"), help: "Print the BLAS kernel choice as JSON and exit.")
    var printBlasCore = false
    @Option(name: .customLong("simulate-blas-pick"), help: .hidden) var simulateBlasPick: String?
    @Flag(name: .customLong("sgemm-rate"), help: "With --print-blas-core: also time a 2048x2048 SGEMM (median of 5).")
    var sgemmRate = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be > 0, got \(batchSize)") }
        guard epochs > 0, repeats > 0 else { throw ValidationError("--epochs and --repeats must be > 0") }
        guard threads >= 0 else { throw ValidationError("--threads must be >= 0, got \(threads)") }
        for k in kernelList where BenchmarkSetup.Kernel(rawValue: k) == nil {
            throw ValidationError("--kernels: unknown kernel \"\(k)\"; known: dense, sparse, auto, measured")
        }
    }

    private var kernelList: [String] { kernels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    private var setup: BenchmarkSetup {
        BenchmarkSetup(
            model: model, dataDir: data, batchSize: batchSize, epochs: epochs, threads: threads, parallelism: parallelism)
    }

    func run() throws {
        // test hook: start from a given OpenBLAS pick, as on a CPU that OpenBLAS does not know
        if let simulateBlasPick { BLASInfo.simulateOwnPickForTesting(simulateBlasPick) }
        let choice = BLASInfo.selectCoreForCPU()  // before any BLAS call (idempotent)
        if printBlasCore {
            struct Out: Encodable {
                var choice: BLASCoreChoice; var coreName: String; var sgemmMaxError: Float
                var sgemmGflops: Double?; var threads: Int
                enum CodingKeys: String, CodingKey {
                    case choice, coreName = "core_name", sgemmMaxError = "sgemm_max_error", sgemmGflops = "sgemm_2048_gflops", threads
                }
            }
            if threads > 0 { BLASInfo.threads = threads }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(
                String(
                    decoding: try enc.encode(
                        Out(
                            choice: choice, coreName: BLASInfo.coreName,
                            sgemmMaxError: BLASInfo.sgemmSelfCheck(),
                            sgemmGflops: sgemmRate ? Benchmark.sgemmRate(n: 2048, repeats: 5) : nil,
                            threads: BLASInfo.threads)), as: UTF8.self))
            return
        }
        if let sparsity {
            try reportingErrors {
                let levels = sparsity.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard !levels.isEmpty, levels.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
                    throw ValidationError("--sparsity takes comma-separated values in [0, 1)")
                }
                let r = try Benchmark.sparsityEpochs(
                    setup, repeats: repeats, sparsities: levels, kernels: kernelList.compactMap { BenchmarkSetup.Kernel(rawValue: $0) },
                    log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
                if json {
                    let enc = JSONEncoder()
                    enc.outputFormatting = [.sortedKeys]
                    print(String(decoding: try enc.encode(r), as: UTF8.self))
                } else {
                    print("BLAS \(r.blasCoreChoice); sparse kernels \(r.sparseISA); \(r.threads) threads; batch \(r.batchSize)")
                    print("sparsity  kernel  median epoch s  vs dense")
                    for row in r.results {
                        let dense = r.results.first { $0.sparsity == row.sparsity && $0.kernel == "dense" }?.medianEpochSeconds
                        print(
                            String(
                                format: "%8.2f  %-6@  %14.3f  %8@", row.sparsity, row.kernel, row.medianEpochSeconds,
                                dense.map { String(format: "%.2fx", $0 / row.medianEpochSeconds) } ?? "-"))
                    }
                    print("layer  shape  batch  sparsity  dense ms/step  sparse ms/step  speed-up")
                    for l in r.layers {
                        print(
                            String(
                                format: "%@  %@  %d  %.2f  %.3f  %.3f  %.2fx", l.layer, "\(l.shape)", l.batch, l.sparsity,
                                l.denseSeconds * 1e3, l.sparseSeconds * 1e3, l.denseSeconds / l.sparseSeconds))
                    }
                }
            }
            return
        }
        try reportingErrors {
            let r = try Benchmark.epochs(setup, repeats: repeats)
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } else {
                print(
                    String(
                        format: "median epoch %.3f s  %.1f GFLOP/s  (SGEMM peak %.1f GFLOP/s, %@, %d threads)  peak RSS %.0f MiB",
                        r.medianEpochSeconds, r.gflops, r.sgemmPeakGflops, r.blasCore, r.threads, r.peakRssMb))
            }
        }
    }
}

extension BenchmarkSetup.Model: ExpressibleByArgument {}
extension TrainingConfig.Parallelism: ExpressibleByArgument {}

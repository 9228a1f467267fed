import Foundation
import Schema
import TensorCore
import NN
import Training
import Datasets

/// Times dense training epochs of a preset model (LeNet-300-100 or LeNet-5) on MNIST and the
/// machine's SGEMM rate.
///
/// Each repeat builds a fresh model from the same seed and trains exactly one epoch per
/// `epochs`; the reported time is per epoch. The SGEMM reference multiplies two 2048x2048
/// matrices through the same OpenBLAS at the same thread count (median of 7).
public enum Benchmark {
    public struct Result: Codable {
        public var epochSeconds: [Double]
        public var medianEpochSeconds: Double
        public var flopsPerEpoch: Int
        public var gflops: Double
        public var sgemmPeakGflops: Double
        public var blasCore: String
        public var threads: Int
        public var peakRssMb: Double
        public var finalTrainLoss: Double
        /// The kernel and how it was chosen (`BLAS.selectCoreForCPU`), for reports.
        public var blasCoreChoice: String = BLASCoreReport.current

        enum CodingKeys: String, CodingKey {
            case epochSeconds = "epoch_seconds", medianEpochSeconds = "median_epoch_seconds"
            case flopsPerEpoch = "flops_per_epoch", gflops, sgemmPeakGflops = "sgemm_peak_gflops"
            case blasCore = "blas_core", threads, peakRssMb = "peak_rss_mb", finalTrainLoss = "final_train_loss"
            case blasCoreChoice = "blas_core_choice"
        }
    }

    /// `repeats` fresh models of `setup`, each trained `setup.epochs` epochs.
    public static func epochs(_ setup: BenchmarkSetup, repeats: Int) throws -> Result {
        let config = try setup.config()
        let epochs = setup.epochs
        let data = try config.data.load()
        var times: [Double] = []
        var flops = 0
        var lastLoss = Double.nan
        for _ in 0..<max(1, repeats) {
            let session = try TrainingSession(config: config, data: data)
            let tracker = LossTracker()
            session.trainer.observers.append(tracker)
            for _ in 0..<max(1, epochs) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try session.trainer.train(steps: session.stepsPerEpoch)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            flops = session.trainer.flops / max(1, epochs)
            lastLoss = tracker.epochLoss
        }
        let median = Statistics.median(times)
        let workers = setup.threads > 0 ? setup.threads : ProcessInfo.processInfo.activeProcessorCount
        BLAS.threads = workers
        return Result(
            epochSeconds: times, medianEpochSeconds: median, flopsPerEpoch: flops,
            gflops: Double(flops) / median / 1e9, sgemmPeakGflops: sgemmRate(n: 2048, repeats: 7),
            blasCore: BLAS.coreName, threads: workers, peakRssMb: peakRSSMegabytes(),
            finalTrainLoss: lastLoss)
    }

    /// One row of `bench --sparsity`: epochs at a fixed mask sparsity with one kernel policy.
    public struct SparsityResult: Codable {
        public var sparsity: Double
        /// `dense` (SGEMM products), `sparse` (sparse kernels on every masked layer) or `auto`
        /// (the measured per-layer crossover, what training runs use).
        public var kernel: String
        public var epochSeconds: [Double]
        public var medianEpochSeconds: Double
        /// CPU time of the process per epoch (all threads): less disturbed than wall time by other
        /// processes on a shared machine (it does not count time the process waited for a core).
        public var epochCPUSeconds: [Double]
        public var medianEpochCPUSeconds: Double
        public var flopsPerEpoch: Int
        public var finalTrainLoss: Double
        /// The kernel each dense layer ran in the last step.
        public var layerKernels: [String: String]

        enum CodingKeys: String, CodingKey {
            case sparsity, kernel, epochSeconds = "epoch_seconds", medianEpochSeconds = "median_epoch_seconds"
            case epochCPUSeconds = "epoch_cpu_seconds", medianEpochCPUSeconds = "median_epoch_cpu_seconds"
            case flopsPerEpoch = "flops_per_epoch", finalTrainLoss = "final_train_loss", layerKernels = "layer_kernels"
        }
    }

    /// Per layer: best-of-5 seconds of one forward + backward step of each kernel.
    public struct LayerTiming: Codable {
        public var layer: String
        public var shape: [Int]
        public var batch: Int
        public var sparsity: Double
        public var denseSeconds: Double
        public var sparseSeconds: Double

        enum CodingKeys: String, CodingKey {
            case layer, shape, batch, sparsity, denseSeconds = "dense_seconds", sparseSeconds = "sparse_seconds"
        }
    }

    public struct SparsityReport: Codable {
        public var blasCore: String
        public var blasCoreChoice: String
        public var sparseISA: String
        public var model: String
        public var threads: Int
        public var batchSize: Int
        public var results: [SparsityResult]
        public var layers: [LayerTiming]
        public var peakRssMb: Double

        enum CodingKeys: String, CodingKey {
            case blasCore = "blas_core", blasCoreChoice = "blas_core_choice", sparseISA = "sparse_isa", model, threads
            case batchSize = "batch_size", results, layers, peakRssMb = "peak_rss_mb"
        }
    }

    /// Masks every prunable weight at exactly `sparsity` (uniformly random entries, seeded).
    static func fixMasks(_ model: Sequential, sparsity: Double, seed: UInt64) {
        var rng = RandomSource(seed: seed).derived("bench-masks")
        for p in model.prunableParameters {
            let n = p.value.count
            let pruned = Int((Double(n) * sparsity).rounded())
            var m = Tensor(shape: p.value.shape, repeating: 1)
            for j in rng.permutation(n).prefix(pruned) { m.scalars[j] = 0 }
            p.setMask(m)
        }
    }

    /// Epoch times at fixed mask sparsities, each with the `dense`, `sparse` and `auto` kernel
    /// policies (sparsity 0 masks nothing out: the sparse kernel then runs at density 1), and
    /// per-layer step timings of both kernels at the data-parallel workers' batch.
    public static func sparsityEpochs(
        _ setup: BenchmarkSetup, repeats: Int, sparsities: [Double], kernels: [KernelPolicy] = [.dense, .sparse, .auto],
        log: (String) -> Void = { _ in }
    ) throws -> SparsityReport {
        var setup = setup
        setup.epochs = 1
        setup.parallelism = .data
        let config = try setup.config()
        let batchSize = setup.batchSize, model = setup.model.rawValue
        let data = try config.data.load()
        var results: [SparsityResult] = []
        var layers: [LayerTiming] = []
        var workers = 1
        for s in sparsities {
            for policy in kernels {
                let r = try epochs(
                    config: config, data: data, sparsity: s, kernel: policy.rawValue, policy: policy,
                    repeats: repeats, workers: &workers)
                log(
                    String(
                        format: "sparsity %.2f %@: median epoch %.3f s (CPU %.3f s)", s, policy.rawValue, r.medianEpochSeconds,
                        r.medianEpochCPUSeconds))
                results.append(r)
            }
            layers += try layerTimings(config: config, data: data, sparsity: s, batchSize: batchSize)
        }
        return SparsityReport(
            blasCore: BLAS.coreName, blasCoreChoice: BLASCoreReport.current,
            sparseISA: SparseKernelISA.current, model: model, threads: workers,
            batchSize: batchSize, results: results, layers: layers, peakRssMb: peakRSSMegabytes())
    }

    /// `repeats` epochs of a fresh model with its masks fixed at `sparsity` and `policy`.
    static func epochs(
        config: ExperimentConfig, data: DataSplit, sparsity s: Double, kernel: String, policy: KernelPolicy,
        repeats: Int, workers: inout Int
    ) throws -> SparsityResult {
        var times: [Double] = [], cpu: [Double] = []
        var flops = 0, lastLoss = Double.nan
        var kernelsUsed: [String: String] = [:]
        for _ in 0..<max(1, repeats) {
            let session = try TrainingSession(config: config, data: data)
            workers = session.threads
            fixMasks(session.model, sparsity: s, seed: 1)
            session.optimizer.applyMasksToState()
            session.model.kernelPolicy = policy
            let tracker = LossTracker()
            session.trainer.observers.append(tracker)
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds()
            try session.trainer.train(steps: session.stepsPerEpoch)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu.append(processCPUSeconds() - c0)
            flops = session.trainer.flops
            lastLoss = tracker.epochLoss
            for case let d as SparseCapableLayer in session.model.leafLayers { kernelsUsed[d.name] = d.lastKernel.rawValue }
        }
        return SparsityResult(
            sparsity: s, kernel: kernel, epochSeconds: times,
            medianEpochSeconds: Statistics.median(times), epochCPUSeconds: cpu,
            medianEpochCPUSeconds: Statistics.median(cpu), flopsPerEpoch: flops,
            finalTrainLoss: lastLoss, layerKernels: kernelsUsed)
    }

    /// Per-layer step timings of both kernels at the data-parallel workers' share of the batch.
    static func layerTimings(config: ExperimentConfig, data: DataSplit, sparsity s: Double, batchSize: Int) throws -> [LayerTiming] {
        var layers: [LayerTiming] = []
        let session = try TrainingSession(config: config, data: data)
        fixMasks(session.model, sparsity: s, seed: 1)
        let part = batchSize / max(1, session.threads)
        for (i, layer) in session.model.layers.enumerated() {
            if let c = layer as? Conv2D, c.weight.mask != nil {
                // the whole layer, im2col + SGEMM against the direct sparse convolution
                let shape = session.model.layerInputShapes[i]
                let t = DirectConvTiming.measure(
                    layer: c, batch: part, height: shape[1], width: shape[2],
                    inputGradient: i > session.model.firstTrainable)
                layers.append(
                    LayerTiming(
                        layer: "\(c.name) (direct sparse convolution)",
                        shape: [c.outChannels, c.weight.value.count / c.outChannels], batch: part, sparsity: s,
                        denseSeconds: t.dense, sparseSeconds: t.sparse))
                continue
            }
            guard let d = layer as? Dense, let pattern = d.weight.sparsityPattern else { continue }
            let t = KernelCrossover.measure(
                layer: d, pattern: pattern, batch: part,
                inputGradient: i > session.model.firstTrainable)
            layers.append(
                LayerTiming(
                    layer: d.name, shape: [d.outputSize, d.inputSize], batch: part, sparsity: s,
                    denseSeconds: t.dense, sparseSeconds: t.sparse))
        }
        return layers
    }

    /// GFLOP/s of `n x n x n` SGEMM (median of `repeats`, after one warm-up call).
    public static func sgemmRate(n: Int, repeats: Int) -> Double {
        var rng = RandomSource(seed: 7)
        let a = (0..<(n * n)).map { _ in Float(rng.nextUniform()) }
        let b = a.reversed() as [Float]
        var c = [Float](repeating: 0, count: n * n)
        var times: [Double] = []
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    for i in 0...repeats {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        BLAS.sgemm(
                            transA: false, transB: false, m: n, n: n, k: n,
                            a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                        if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
                    }
                }
            }
        }
        return 2 * Double(n * n * n) / Statistics.median(times) / 1e9
    }

    /// CPU time this process used so far (all threads), in seconds.
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Peak resident set size of this process (VmHWM), in MiB.
    public static func peakRSSMegabytes() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
            return kb / 1024
        }
        return .nan
    }

    final class LossTracker: TrainingObserver {
        var sum = 0.0, seen = 0
        var epochLoss = Double.nan
        func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
            sum += info.loss * Double(info.batchSize); seen += info.batchSize
            return .continue
        }
        func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision {
            epochLoss = sum / Double(max(seen, 1)); sum = 0; seen = 0
            return .continue
        }
    }
}

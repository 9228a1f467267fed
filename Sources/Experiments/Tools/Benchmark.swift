import Foundation
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

        enum CodingKeys: String, CodingKey {
            case epochSeconds = "epoch_seconds", medianEpochSeconds = "median_epoch_seconds"
            case flopsPerEpoch = "flops_per_epoch", gflops, sgemmPeakGflops = "sgemm_peak_gflops"
            case blasCore = "blas_core", threads, peakRssMb = "peak_rss_mb", finalTrainLoss = "final_train_loss"
        }
    }

    /// LeNet-5 starts from `normal` (std 1/sqrt(fan_in), near PyTorch's default uniform rule):
    /// with He's larger initial weights its linear conv stack diverges at the benchmark's lr 0.05.
    public static func epochs(model: String = "lenet-300-100", dataDir: String, batchSize: Int, epochs: Int,
                              repeats: Int, threads: Int, parallelism: String = "data") throws -> Result {
        let json = """
        {"name": "bench", "seed": 1, "data": {"format": "idx", "dir": "\(dataDir)"},
         "model": {"preset": "\(model)", "init": "\(model == "lenet-5" ? "normal" : "he")"},
         "training": {"epochs": \(epochs), "batch_size": \(batchSize), "learning_rate": 0.05, "momentum": 0.9,
                      "threads": \(threads), "parallelism": "\(parallelism)"}}
        """
        let config = try ConfigLoader.decode(Data(json.utf8))
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
        let workers = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        BLAS.threads = workers
        return Result(epochSeconds: times, medianEpochSeconds: median, flopsPerEpoch: flops,
                      gflops: Double(flops) / median / 1e9, sgemmPeakGflops: sgemmRate(n: 2048, repeats: 7),
                      blasCore: BLAS.coreName, threads: workers, peakRssMb: peakRSSMegabytes(),
                      finalTrainLoss: lastLoss)
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
                        BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n,
                                   a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                        if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
                    }
                }
            }
        }
        return 2 * Double(n * n * n) / Statistics.median(times) / 1e9
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

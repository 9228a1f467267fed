import Dispatch
import TensorCore
import NN

/// The one data-parallel fan-out, used by training and by evaluation: `k` parts of work, each
/// on its own model (the master for part 0, replicas for the rest) on its own thread, the
/// replicas sharing the master's weight buffers for the duration of the call.
public final class DataParallel {
    public let master: Sequential
    let replicas: [Sequential]
    /// Gathered gradient entries of `reduceGradients`' sparse path (reused between steps).
    private var reduceScratch: [Float] = []

    /// `workers` threads (at least 1); replicas are built once and reused.
    public init(model: Sequential, workers: Int) {
        master = model
        replicas = (1..<max(1, workers)).map { _ in model.replica() }
    }

    public var workers: Int { replicas.count + 1 }

    /// Runs `body(i, model_i)` for `i` in `0..<parts` (at most `workers`) concurrently and
    /// returns the results in part order. Replicas see the master's current weights and drop
    /// them afterwards, so the master's next in-place update does not copy its buffers.
    public func run<R>(parts: Int, _ body: (Int, Sequential) -> R) -> [R] {
        let k = min(parts, workers)
        guard k > 1 else { return (0..<parts).map { body($0, master) } }
        let models = [master] + replicas
        for r in replicas.prefix(k - 1) { r.shareWeights(from: master) }
        defer { for r in replicas.prefix(k - 1) { r.releaseWeights() } }
        let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: k)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        return withoutActuallyEscaping(body) { escapable in
            // Safe to share across threads: part i writes only results[i] and touches only
            // models[i] (its caches and gradients); the shared weight buffers are only read
            // while the parts run (copy-on-write storage that nothing writes until `run` returns).
            let shared = UncheckedSendable(FanOut(models: models, results: results, body: escapable))
            DispatchQueue.concurrentPerform(iterations: k) { i in
                shared.value.run(i)
            }
            return results.map { $0! }
        }
    }
}

extension DataParallel {
    /// The master's gradients become `Σ weights[i] · grad_i` over the master (i = 0) and the
    /// replicas, parameter by parameter. Compact gradients of one pattern in every model (sparse
    /// Dense layers) are summed as they are. A weight whose sparse backward ran in every model with
    /// the same pattern (`gradientPattern`: exactly 0 outside it) is summed over the pattern's
    /// entries only, gathered into a contiguous buffer and summed by the same BLAS calls as the
    /// dense path, so a pruned weight costs nothing here either (the dense sum read and wrote
    /// every entry of every replica each step, the last O(weights) pass of a sparse step).
    /// Returns how many entries per model were summed.
    @discardableResult
    public func reduceGradients(weights: [Float]) -> Int {
        let replicaParams = replicas.prefix(weights.count - 1).map(\.parameters)
        // one part of weight 1: the sum is the master's gradient as it is (x * 1 == x, bit for bit)
        if replicaParams.isEmpty && weights == [1] { return 0 }
        var summed = 0
        for (pi, p) in master.parameters.enumerated() {
            if let pattern = p.compactPattern, replicaParams.allSatisfy({ $0[pi].compactPattern === pattern }) {
                reduceCompact(p, replicaParams.map { $0[pi] }, weights: weights)
                summed += pattern.nonzeros
                continue
            }
            if let pattern = p.gradientPattern, replicaParams.allSatisfy({ $0[pi].gradientPattern === pattern }) {
                reduceLive(p, replicaParams.map { $0[pi] }, entries: pattern.csrFlat, weights: weights)
                summed += pattern.csrFlat.count
                continue
            }
            summed += p.grad.count
            let others = replicaParams.map { $0[pi].grad }
            p.grad.scalars.withUnsafeMutableBufferPointer { g in
                ParallelRanges.forEach(count: g.count, threads: workers) { r in
                    let gr = UnsafeMutableBufferPointer(rebasing: g[r])
                    Kernels.scale(gr, by: weights[0])
                    for (ri, h) in others.enumerated() {
                        h.scalars.withUnsafeBufferPointer { h in Kernels.axpy(weights[ri + 1], UnsafeBufferPointer(rebasing: h[r]), gr) }
                    }
                }
            }
        }
        return summed
    }

    /// `reduceGradients` over compact gradients of one pattern (`Parameter.compactGradient`):
    /// the calls and ranges of `reduceLive`, on the contiguous entries themselves (no gather
    /// or scatter), hence the same bits.
    private func reduceCompact(_ p: Parameter, _ others: [Parameter], weights: [Float]) {
        let n = p.compactGradient.count
        guard n > 0 else { return }
        let others = others.map(\.compactGradient)
        p.updateCompactGradient { g in
            ParallelRanges.forEach(count: n, threads: workers) { r in
                let sum = UnsafeMutableBufferPointer(rebasing: g[r])
                Kernels.scale(sum, by: weights[0])
                for (ri, q) in others.enumerated() {
                    q.withUnsafeBufferPointer { h in Kernels.axpy(weights[ri + 1], UnsafeBufferPointer(rebasing: h[r]), sum) }
                }
            }
        }
    }

    /// `reduceGradients` over the flat indices `entries` of `p` (and of its replicas `others`).
    private func reduceLive(_ p: Parameter, _ others: [Parameter], entries: [Int32], weights: [Float]) {
        let n = entries.count
        guard n > 0 else { return }
        if reduceScratch.count < 2 * n { reduceScratch = [Float](repeating: 0, count: 2 * n) }
        let others = others.map(\.grad)
        entries.withUnsafeBufferPointer { idx in
            reduceScratch.withUnsafeMutableBufferPointer { scratch in
                p.grad.scalars.withUnsafeMutableBufferPointer { g in
                    // ranges of entries, each summed in its own slice of the scratch buffer
                    ParallelRanges.forEach(count: n, threads: workers) { r in
                        let sum = UnsafeMutableBufferPointer(rebasing: scratch[r])
                        let part = UnsafeMutableBufferPointer(rebasing: scratch[(n + r.lowerBound)..<(n + r.upperBound)])
                        for k in r { sum[k - r.lowerBound] = g[Int(idx[k])] }
                        Kernels.scale(sum, by: weights[0])
                        for (ri, q) in others.enumerated() {
                            q.scalars.withUnsafeBufferPointer { h in for k in r { part[k - r.lowerBound] = h[Int(idx[k])] } }
                            Kernels.axpy(weights[ri + 1], UnsafeBufferPointer(part), sum)
                        }
                        for k in r { g[Int(idx[k])] = sum[k - r.lowerBound] }
                    }
                }
            }
        }
    }
}

extension DataParallel {
    /// Folds the batch statistics of the last `parts` training passes (master and replicas)
    /// into the master's batch norms' running statistics.
    public func commitBatchStatistics(parts: Int) {
        master.commitBatchStatistics(replicas: Array(replicas.prefix(max(0, parts - 1))))
    }
}

/// The parts of one fan-out, shared by its threads.
private struct FanOut<R> {
    let models: [Sequential]
    let results: UnsafeMutableBufferPointer<R?>
    let body: (Int, Sequential) -> R

    func run(_ i: Int) { results[i] = body(i, models[i]) }
}

/// Wraps a value that is handed to other threads under a discipline the compiler cannot see
/// (each use site says why it is safe).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

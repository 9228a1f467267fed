import TensorCore
import NN

/// The one data-parallel fan-out, used by training and by evaluation: `k` parts of work, each
/// on its own model (the master for part 0, replicas for the rest) on its own thread, the
/// replicas sharing the master's weight buffers for the duration of the call.
public final class DataParallel {
    public let master: Sequential
    let replicas: [Sequential]
    /// The threads every fan-out, gradient sum and optimizer update of this model runs on.
    public let team: WorkerTeam
    /// Gathered gradient entries of `reduceGradients`' sparse path (reused between steps).
    private var reduceScratch: [Float] = []

    /// `workers` threads (at least 1); replicas are built once and reused.
    public init(model: Sequential, workers: Int) {
        master = model
        replicas = (1..<max(1, workers)).map { _ in model.replica() }
        team = WorkerTeam(size: max(1, workers))
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
            team.run(parts: k) { i in shared.value.run(i) }
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
    /// dense path, so a pruned weight costs nothing here either. Every parameter's entries are
    /// split into one range per worker (`ParallelRanges.bounds`, so each BLAS call splits its
    /// vector body and tail where one call over everything would: the same bits for any split),
    /// and the team sums all parameters' ranges in one job. Returns how many entries per model
    /// were summed.
    @discardableResult
    public func reduceGradients(weights: [Float]) -> Int {
        let replicaParams = replicas.prefix(weights.count - 1).map(\.parameters)
        // one part of weight 1: the sum is the master's gradient as it is (x * 1 == x, bit for bit)
        if replicaParams.isEmpty && weights == [1] { return 0 }
        var plans: [ReducePlan] = []
        var accesses: [PointerScopes.MutableAccess] = []
        var others: [[Float]] = []
        var scratchSize = 0
        for (pi, p) in master.parameters.enumerated() {
            let theirs = replicaParams.map { $0[pi] }
            if let pattern = p.compactPattern, theirs.allSatisfy({ $0.compactPattern === pattern }) {
                plans.append(ReducePlan(count: pattern.nonzeros, entries: nil, scratch: 0))
                accesses.append { body in p.updateCompactGradient(body) }
                others += theirs.map(\.compactGradient)
            } else if let pattern = p.gradientPattern, theirs.allSatisfy({ $0.gradientPattern === pattern }) {
                plans.append(ReducePlan(count: pattern.csrFlat.count, entries: pattern.csrFlat, scratch: scratchSize))
                scratchSize += 2 * pattern.csrFlat.count
                accesses.append { body in p.grad.scalars.withUnsafeMutableBufferPointer { body($0) } }
                others += theirs.map(\.grad.scalars)
            } else {
                plans.append(ReducePlan(count: p.grad.count, entries: nil, scratch: 0))
                accesses.append { body in p.grad.scalars.withUnsafeMutableBufferPointer { body($0) } }
                others += theirs.map(\.grad.scalars)
            }
        }
        if reduceScratch.count < scratchSize { reduceScratch = [Float](repeating: 0, count: scratchSize) }
        let total = plans.reduce(0) { $0 + $1.count }
        let k = min(workers, max(1, total / WorkerTeam.minimumPerPart))
        let bounds = plans.map { ParallelRanges.bounds(count: $0.count, parts: k) }
        let n = replicaParams.count
        PointerScopes.withMutable(accesses) { mine in
            PointerScopes.withReadable(others) { theirs in
                PointerScopes.withReadable(plans.map { $0.entries ?? [] }) { entries in
                    // each parameter's replica gradients, gathered once for every part
                    let replicaGradients = plans.indices.map { Array(theirs[($0 * n)..<($0 * n + n)]) }
                    reduceScratch.withUnsafeMutableBufferPointer { scratch in
                        team.run(parts: k) { part in
                            for (pi, plan) in plans.enumerated() {
                                let r = bounds[pi][part]..<bounds[pi][part + 1]
                                guard !r.isEmpty else { continue }
                                if plan.entries != nil {
                                    Self.reduceLive(
                                        mine[pi], replicaGradients[pi], entries: entries[pi], range: r,
                                        scratch: UnsafeMutableBufferPointer(
                                            rebasing: scratch[plan.scratch..<(plan.scratch + 2 * plan.count)]),
                                        weights: weights)
                                } else {
                                    Self.reduceContiguous(mine[pi], replicaGradients[pi], range: r, weights: weights)
                                }
                            }
                        }
                    }
                }
            }
        }
        return total
    }

    /// `Σ weights[i] · grad_i` over the entries `range` of contiguous gradients (dense, or
    /// compact ones of one pattern).
    private static func reduceContiguous(
        _ g: UnsafeMutableBufferPointer<Float>, _ others: [UnsafeBufferPointer<Float>], range r: Range<Int>, weights: [Float]
    ) {
        let sum = UnsafeMutableBufferPointer(rebasing: g[r])
        Kernels.scale(sum, by: weights[0])
        for (ri, h) in others.enumerated() { Kernels.axpy(weights[ri + 1], UnsafeBufferPointer(rebasing: h[r]), sum) }
    }

    /// The sum at the flat indices `entries[range]` of dense-layout gradients, gathered into
    /// `scratch` (the first half for the sum, the second for each replica's entries), summed
    /// by the same calls as `reduceContiguous`, and scattered back.
    private static func reduceLive(
        _ g: UnsafeMutableBufferPointer<Float>, _ others: [UnsafeBufferPointer<Float>], entries idx: UnsafeBufferPointer<Int32>,
        range r: Range<Int>, scratch: UnsafeMutableBufferPointer<Float>, weights: [Float]
    ) {
        let n = idx.count
        let sum = UnsafeMutableBufferPointer(rebasing: scratch[r])
        let part = UnsafeMutableBufferPointer(rebasing: scratch[(n + r.lowerBound)..<(n + r.upperBound)])
        for k in r { sum[k - r.lowerBound] = g[Int(idx[k])] }
        Kernels.scale(sum, by: weights[0])
        for (ri, h) in others.enumerated() {
            for k in r { part[k - r.lowerBound] = h[Int(idx[k])] }
            Kernels.axpy(weights[ri + 1], UnsafeBufferPointer(part), sum)
        }
        for k in r { g[Int(idx[k])] = sum[k - r.lowerBound] }
    }
}

/// How one parameter's gradients are summed: `count` entries, contiguous (dense or compact)
/// or at the flat indices `entries` with `2 * count` floats of scratch from offset `scratch`.
private struct ReducePlan {
    var count: Int
    var entries: [Int32]?
    var scratch: Int
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

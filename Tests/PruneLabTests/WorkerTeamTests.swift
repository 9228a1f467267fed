import Dispatch
import Foundation
import NN
import Synchronization
import TensorCore
import Testing

@testable import Training

/// The worker team behind every data-parallel step: parts on their own threads, each exactly
/// once, jobs after the workers parked, re-entrant and concurrent calls, and passes split over
/// the team giving the bits of one pass on one thread.
@Suite struct WorkerTeamTests {
    /// Every part of thousands of back-to-back jobs runs exactly once, and the parts of a job
    /// run on distinct threads (the caller's among them).
    @Test(arguments: [2, 3, 4])
    func everyPartRunsOnceOnItsOwnThread(size: Int) {
        let team = WorkerTeam(size: size)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: size)
        let threads = UnsafeMutableBufferPointer<pthread_t>.allocate(capacity: size)
        defer {
            counts.deallocate()
            threads.deallocate()
        }
        counts.initialize(repeating: 0)
        var distinct = true
        for _ in 0..<3000 {
            team.run(parts: size) { i in
                counts[i] += 1
                threads[i] = pthread_self()
            }
            distinct = distinct && Set(Array(threads)).count == size
        }
        #expect(Array(counts) == [Int](repeating: 3000, count: size))
        #expect(distinct)
        #expect(threads[0] == pthread_self())
    }

    /// Fewer parts than threads: only parts 0..<k run.
    @Test func fewerPartsThanThreads() {
        let team = WorkerTeam(size: 4)
        let hits = Mutex([Int]())
        team.run(parts: 2) { i in hits.withLock { $0.append(i) } }
        #expect(hits.withLock { $0.sorted() } == [0, 1])
    }

    /// A job posted after the workers gave up polling and parked still runs on them.
    @Test func parkedWorkersWakeForTheNextJob() {
        let team = WorkerTeam(size: 2)
        for _ in 0..<5 {
            usleep(UInt32(3 * WorkerTeam.spinNanoseconds / 1000))  // longer than the polling
            let ran = Mutex([Int]())
            team.run(parts: 2) { i in ran.withLock { $0.append(i) } }
            #expect(ran.withLock { $0.sorted() } == [0, 1])
        }
    }

    /// A call from inside a part, and calls from two threads at once, run to completion (the
    /// second caller runs its parts itself) with every part run once.
    @Test func reentrantAndConcurrentCallsComplete() {
        let team = WorkerTeam(size: 2)
        let inner = Mutex(0)
        team.run(parts: 2) { _ in team.run(parts: 2) { _ in inner.withLock { $0 += 1 } } }
        #expect(inner.withLock { $0 } == 4)
        let total = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<500 { team.run(parts: 2) { _ in total.withLock { $0 += 1 } } }
        }
        #expect(total.withLock { $0 } == 4 * 500 * 2)
    }

    /// Teams come and go (each joins its threads when released).
    @Test func teamsStartAndStop() {
        var sum = 0
        for _ in 0..<50 {
            let team = WorkerTeam(size: 3)
            let parts = Mutex(0)
            team.run(parts: 3) { _ in parts.withLock { $0 += 1 } }
            sum += parts.withLock { $0 }
        }
        #expect(sum == 150)
    }

    /// `forEachRange` covers `0..<count` once, in ranges whose inner boundaries are multiples of
    /// `ParallelRanges.granule`; below the minimum per part it is one range.
    @Test func rangesCoverEveryElementOnce() {
        let team = WorkerTeam(size: 3)
        for count in [0, 1, 255, 9000, 100_003] {
            let seen = Mutex([Range<Int>]())
            team.forEachRange(count: count, minimumPerPart: 1000) { r in seen.withLock { $0.append(r) } }
            let ranges = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
            #expect(ranges.reduce(0) { $0 + $1.count } == count, "count \(count)")
            for (a, b) in zip(ranges, ranges.dropFirst()) {
                #expect(a.upperBound == b.lowerBound && b.lowerBound % ParallelRanges.granule == 0)
            }
            if count < 2000 { #expect(ranges.count <= 1) }
        }
    }
}

/// The optimizer update and the data-parallel gradient sum split over a team give the bits of
/// the same pass on one thread, on parameters large enough to be split.
@Suite struct TeamSplitEqualityTests {
    static func parameters(seed: UInt64) -> [Parameter] {
        var rng = RandomSource(seed: seed)
        func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextNormal()) })
        }
        func mask(_ shape: [Int], density: Double) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUniform() < density ? 1 : 0 })
        }
        // dense; masked above the live-update density; live (compactable) with frozen entries; a bias
        let dense = Parameter(name: "a.weight", value: tensor([120, 150]), isPrunable: true)
        let masked = Parameter(name: "b.weight", value: tensor([200, 150]), isPrunable: true)
        masked.setMask(mask([200, 150], density: 0.5))
        let live = Parameter(name: "c.weight", value: tensor([300, 200]), isPrunable: true)
        live.setMask(mask([300, 200], density: 0.2))
        let liveIndices = live.mask!.scalars.indices.filter { live.mask!.scalars[$0] != 0 }
        live.freeze(Array(liveIndices.prefix(40)), at: (0..<40).map { Float($0) / 40 })
        let bias = Parameter(name: "c.bias", value: tensor([300]), isPrunable: false)
        return [dense, masked, live, bias]
    }

    @Test(arguments: [(0.0, false), (0.9, false), (0.9, true)])
    func sgdStepOnATeamEqualsOneThread(momentum: Double, nesterov: Bool) {
        var finals: [[[Float]]] = []
        for size in [1, 2, 3] {
            let params = Self.parameters(seed: 5)
            let opt = SGD(parameters: params, momentum: momentum, nesterov: nesterov, weightDecay: 1e-3)
            opt.team = WorkerTeam(size: size)
            opt.applyMasksToState()
            var rng = RandomSource(seed: 6)
            for _ in 0..<4 {
                for p in params {
                    var g = Tensor(shape: p.value.shape, scalars: (0..<p.value.count).map { _ in Float(rng.nextNormal()) })
                    if let m = p.mask { for j in 0..<g.count { g.scalars[j] *= m.scalars[j] } }
                    p.grad = g
                }
                opt.step(learningRate: 0.05)
            }
            finals.append(params.map(\.value.scalars) + (momentum > 0 ? opt.velocity.map(\.scalars) : []))
        }
        for size in 1...2 {
            for (a, b) in zip(finals[size], finals[0]) {
                let differing = zip(a, b).filter { $0 != $1 }.count
                #expect(differing == 0, "team of \(size + 1): \(differing) of \(a.count) entries differ")
            }
        }
    }

    /// `reduceGradients` on 2 and 3 workers equals `scale` then `axpy` over the summed entries
    /// (the live ones gathered, for a masked layer on the sparse kernels) in calls of
    /// `ParallelRanges.granule` entries each, bit for bit, on parameters large enough to be
    /// split: the team's ranges start at multiples of the granule, so they cut the BLAS calls
    /// where no vector body or tail changes. (Granule-sized calls, not one call per gradient,
    /// because a multithreaded OpenBLAS splits one long call at boundaries of its own; and parts
    /// of at most 10000 entries, which OpenBLAS does not split.)
    @Test(arguments: [(2, false), (3, false), (2, true), (3, true)])
    func gradientSumOnATeamEqualsWholeCalls(workers: Int, masked: Bool) {
        var rng = RandomSource(seed: 8)
        // 15000 dense entries, or about 18000 live ones: split in 2 or 3 parts of at most 10000
        let hidden = masked ? 200 : 100
        let fc1 = Dense(name: "fc1", inputSize: 150, outputSize: hidden), fc2 = Dense(name: "fc2", inputSize: hidden, outputSize: 10)
        let model = Sequential(
            layers: [fc1, Activation(name: "act1", kind: .relu), fc2], inputShape: [150], loss: .softmaxCrossEntropy)
        Initializer.he.initialize(model, rng: &rng)
        if masked {
            fc1.weight.setMask(Tensor(shape: [hidden, 150], scalars: (0..<(hidden * 150)).map { _ in rng.nextUniform() < 0.6 ? 1 : 0 }))
            fc1.kernelPolicy = .sparse
        }
        let dp = DataParallel(model: model, workers: workers)
        let sizes = (0..<workers).map { 7 + 3 * $0 }
        let parts = sizes.map { b in Tensor(shape: [b, 150], scalars: (0..<(b * 150)).map { _ in Float(rng.nextNormal()) }) }
        let labels = sizes.map { b in (0..<b).map { _ in rng.nextInt(below: 10) } }
        var partGradients = [[[Float]]](repeating: [], count: workers)
        let lock = Mutex(())
        _ = dp.run(parts: workers) { i, m in
            let r = m.loss.evaluate(logits: m.forward(parts[i], training: true), labels: labels[i][...], wantGradient: true)
            m.backward(r.gradient)
            let grads = m.parameters.map(\.grad.scalars)
            lock.withLock { _ in partGradients[i] = grads }
        }
        let total = Float(sizes.reduce(0, +))
        let weights = sizes.map { Float($0) / total }
        dp.reduceGradients(weights: weights)
        if masked { #expect(fc1.weight.compactPattern != nil) }
        for (pi, p) in model.parameters.enumerated() {
            // the entries summed: the live ones of the masked weight, all others elsewhere
            let entries = pi == 0 && masked ? fc1.weight.sparsityPattern!.csrFlat.map(Int.init) : Array(0..<p.value.count)
            var want = entries.map { partGradients[0][pi][$0] }
            let others = (1..<workers).map { i in entries.map { partGradients[i][pi][$0] } }
            want.withUnsafeMutableBufferPointer { sum in
                for lo in stride(from: 0, to: sum.count, by: ParallelRanges.granule) {
                    let r = lo..<min(sum.count, lo + ParallelRanges.granule)
                    let chunk = UnsafeMutableBufferPointer(rebasing: sum[r])
                    Kernels.scale(chunk, by: weights[0])
                    for (i, h) in others.enumerated() {
                        h.withUnsafeBufferPointer { Kernels.axpy(weights[i + 1], UnsafeBufferPointer(rebasing: $0[r]), chunk) }
                    }
                }
            }
            let grad = p.grad.scalars
            let differing = zip(entries.map { grad[$0] }, want).filter { $0 != $1 }.count
            #expect(differing == 0, "\(p.name): \(differing) of \(want.count) entries differ")
        }
    }
}

import TensorCore
import NN

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.
///
/// For each parameter, `g = grad + weightDecay * w` (weights only: biases get no decay),
/// `v = momentum * v + g`, and `w -= lr * (nesterov ? g + momentum * v : v)`; with momentum 0
/// this is plain `w -= lr * g`. These are PyTorch's `torch.optim.SGD` equations (dampening 0).
/// After the update a masked parameter has its mask applied to `w` *and* to `v`, so a pruned
/// weight and its momentum stay exactly 0.
public final class SGD: Optimizer {
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    /// Momentum buffers, one per parameter, in `parameters` order (dense layout; reading brings
    /// any compact momentum of the live update back into it first).
    public internal(set) var velocity: [Tensor] {
        get {
            flushCompactVelocity()
            return storedVelocity
        }
        set {
            compactVelocity = compactVelocity.map { _ in nil }
            storedVelocity = newValue
        }
    }
    private var storedVelocity: [Tensor]
    /// The momentum of a parameter on the live update, compact: its pattern's live entries in
    /// CSR order (`csrFlat`). While it exists, `storedVelocity[i]` is stale at those entries
    /// (and 0 elsewhere, as pruned momentum always is). Contiguous like the compact gradient, so
    /// a step reads and writes 4 bytes per live weight instead of a cache line of the dense
    /// buffer for nearly each one (at 8% density, every line of a 940 KB buffer per step).
    private var compactVelocity: [(pattern: SparsityPattern, values: [Float])?]
    public private(set) var parameters: [Parameter]
    /// Threads an update may split over (the trainer sets its data-parallel worker count).
    public var threads = 1

    public init(parameters: [Parameter], momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.parameters = parameters
        self.momentum = Float(momentum)
        self.nesterov = nesterov
        self.weightDecay = Float(weightDecay)
        storedVelocity = momentum > 0 ? parameters.map { Tensor(shape: $0.value.shape) } : []
        compactVelocity = storedVelocity.map { _ in nil }
    }

    /// One update with learning rate `lr`. A masked parameter's mask is applied to `w` and `v`
    /// in the same pass as the update (not in extra passes over both buffers every step).
    public func step(learningRate lr: Double) {
        let lr = Float(lr), wd = weightDecay
        for (i, p) in parameters.enumerated() {
            let decay = p.isPrunable ? wd : 0
            // frozen weights are not live-updated: the trainable pattern leaves them out
            if p.mask != nil || !p.frozenIndices.isEmpty, let pattern = p.trainablePattern ?? p.sparsityPattern,
                pattern.density <= SGD.liveUpdateDensity
            {
                stepLiveWeights(i, p, pattern, lr: lr, decay: decay)
            } else {
                flushCompactVelocity(i)
                stepAllWeights(i, p, lr: lr, decay: decay)
                holdFrozen(i, p)
            }
        }
    }

    /// The update of every entry of parameter `i` (masked ones multiplied by their mask entry),
    /// split over `threads` (each entry's arithmetic is the same in any split).
    private func stepAllWeights(_ i: Int, _ p: Parameter, lr: Float, decay: Float) {
        let mu = momentum, nesterov = nesterov, threads = threads
        let masked = p.mask != nil
        let gradient = p.grad, mask = p.mask ?? SGD.noMask
        gradient.scalars.withUnsafeBufferPointer { g in
            mask.scalars.withUnsafeBufferPointer { m in
                p.value.scalars.withUnsafeMutableBufferPointer { w in
                    if mu == 0 {
                        ParallelRanges.forEach(count: w.count, threads: threads) { range in
                            for j in range {
                                let wj = w[j] - lr * (g[j] + decay * w[j])
                                w[j] = masked ? wj * m[j] : wj
                            }
                        }
                        return
                    }
                    storedVelocity[i].scalars.withUnsafeMutableBufferPointer { v in
                        ParallelRanges.forEach(count: w.count, threads: threads) { r in
                            SGD.momentumUpdate(
                                w: UnsafeMutableBufferPointer(rebasing: w[r]), v: UnsafeMutableBufferPointer(rebasing: v[r]),
                                g: UnsafeBufferPointer(rebasing: g[r]), mask: masked ? UnsafeBufferPointer(rebasing: m[r]) : nil,
                                lr: lr, mu: mu, decay: decay, nesterov: nesterov)
                        }
                    }
                }
            }
        }
    }

    /// Stands in for the mask of an unmasked parameter (never read).
    private static let noMask = Tensor(shape: [0])

    /// After a dense update: frozen weights back to their values, and no momentum for them.
    private func holdFrozen(_ i: Int, _ p: Parameter) {
        guard !p.frozenIndices.isEmpty else { return }
        p.restoreFrozen()
        guard !storedVelocity.isEmpty else { return }
        storedVelocity[i].scalars.withUnsafeMutableBufferPointer { v in
            for j in p.frozenIndices { v[Int(j)] = 0 }
        }
    }

    /// At or below this mask density the update runs over the live weights only (on a 784x300
    /// weight, Zen 5: 54 us dense at any density; live 20 us at 0.05, 44 us at 0.2, 64 us at 0.3).
    static let liveUpdateDensity = 0.25  // measured: the scalar live loop beats the vectorised dense one below ~0.25

    /// The same update as `step` for the live entries `live` (sorted flat indices) of a masked
    /// parameter, touching nothing else: pruned weights and their momentum are already exactly 0
    /// (masks are applied to both when they change) and stay so. Live entries get bit for bit
    /// the values of the dense masked update (which multiplies them by a mask entry of 1).
    private func stepLiveWeights(_ i: Int, _ p: Parameter, _ pattern: SparsityPattern, lr: Float, decay: Float) {
        // the gradient of live entry k (CSR order): compact when the sparse backward left it so
        // (contiguous, and no dense gradient to bring up to date), else at its flat index
        if p.compactPattern === pattern {
            p.compactGradient.withUnsafeBufferPointer { g in stepLiveWeights(i, p, pattern, lr: lr, decay: decay, g: g, compact: true) }
        } else {
            let gradient = p.grad
            gradient.scalars.withUnsafeBufferPointer { g in stepLiveWeights(i, p, pattern, lr: lr, decay: decay, g: g, compact: false) }
        }
    }

    /// The live update with the gradient of live entry k at `g[k]` (`compact`) or at its flat
    /// index. Plain loops over pointers: a per-entry closure for the gradient's index was not
    /// inlined and cost a call per live weight (12% of a sparse LeNet-300-100 step on Zen 3).
    private func stepLiveWeights(
        _ i: Int, _ p: Parameter, _ pattern: SparsityPattern, lr: Float, decay: Float,
        g: UnsafeBufferPointer<Float>, compact: Bool
    ) {
        let mu = momentum, nesterov = nesterov, threads = threads
        pattern.csrFlat.withUnsafeBufferPointer { idx in
            p.value.scalars.withUnsafeMutableBufferPointer { w in
                if mu == 0 {
                    ParallelRanges.forEach(count: idx.count, threads: threads) { range in
                        Self.liveUpdate(range, idx, w, g, compact: compact, lr: lr, decay: decay)
                    }
                    return
                }
                // v[k]: the compact momentum of live entry k (see `compactVelocity`)
                prepareCompactMomentum(i, pattern)
                compactVelocity[i]!.values.withUnsafeMutableBufferPointer { v in
                    ParallelRanges.forEach(count: idx.count, threads: threads) { range in
                        Self.liveMomentumUpdate(
                            range, idx, w, v, g, compact: compact, lr: lr, mu: mu, decay: decay, nesterov: nesterov)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func liveUpdate(
        _ range: Range<Int>, _ idx: UnsafeBufferPointer<Int32>, _ w: UnsafeMutableBufferPointer<Float>,
        _ g: UnsafeBufferPointer<Float>, compact: Bool, lr: Float, decay: Float
    ) {
        for k in range {
            let j = Int(idx[k])
            w[j] = w[j] - lr * ((compact ? g[k] : g[j]) + decay * w[j])
        }
    }

    @inline(__always)
    private static func liveMomentumUpdate(
        _ range: Range<Int>, _ idx: UnsafeBufferPointer<Int32>, _ w: UnsafeMutableBufferPointer<Float>,
        _ v: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, compact: Bool,
        lr: Float, mu: Float, decay: Float, nesterov: Bool
    ) {
        for k in range {
            let j = Int(idx[k])
            let gj = (compact ? g[k] : g[j]) + decay * w[j]
            let vj = mu * v[k] + gj
            w[j] = w[j] - lr * (nesterov ? gj + mu * vj : vj)
            v[k] = vj
        }
    }

    /// Makes `compactVelocity[i]` the momentum for `pattern`, gathered from the dense buffer when
    /// the pattern is new (after a flush of the previous one's).
    private func prepareCompactMomentum(_ i: Int, _ pattern: SparsityPattern) {
        guard compactVelocity[i]?.pattern !== pattern else { return }
        flushCompactVelocity(i)
        let dense = storedVelocity[i].scalars
        compactVelocity[i] = (pattern, pattern.csrFlat.map { dense[Int($0)] })
    }

    /// Writes the compact momentum of parameter `i` (or of all) back to the dense buffer.
    private func flushCompactVelocity(_ i: Int? = nil) {
        guard !compactVelocity.isEmpty else { return }  // no momentum, no compact state
        for key in i.map({ $0..<($0 + 1) }) ?? compactVelocity.indices {
            guard let (pattern, values) = compactVelocity[key] else { continue }
            compactVelocity[key] = nil
            storedVelocity[key].scalars.withUnsafeMutableBufferPointer { v in
                for (k, j) in pattern.csrFlat.enumerated() { v[Int(j)] = values[k] }
            }
        }
    }

    /// The momentum update of `step` eight entries at a time: per entry the same float
    /// operations in the same order as the scalar loop (`g + decay * w`, `mu * v + g'`,
    /// `w - lr * (...)`, then `* mask` on both when masked; no fused multiply-add), so the same
    /// bits, at vector speed (the scalar loop took 11% of a dense LeNet-300-100 epoch, and the
    /// masked one 6% of a `linear` run, while the layers are denser than `liveUpdateDensity`).
    static func momentumUpdate(
        w: UnsafeMutableBufferPointer<Float>, v: UnsafeMutableBufferPointer<Float>,
        g: UnsafeBufferPointer<Float>, mask: UnsafeBufferPointer<Float>? = nil,
        lr: Float, mu: Float, decay: Float, nesterov: Bool
    ) {
        let n = w.count
        guard n > 0, let pw = w.baseAddress, let pv = v.baseAddress, let pg = g.baseAddress else { return }
        let pm = mask?.baseAddress
        let rw = UnsafeMutableRawPointer(pw), rv = UnsafeMutableRawPointer(pv), rg = UnsafeRawPointer(pg)
        let vlr = SIMD8<Float>(repeating: lr), vmu = SIMD8<Float>(repeating: mu), vd = SIMD8<Float>(repeating: decay)
        var j = 0
        while j + 8 <= n {
            let o = j * 4
            let wj = rw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let gj = rg.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + vd * wj
            var vj = vmu * rv.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + gj
            var wn = wj - vlr * (nesterov ? gj + vmu * vj : vj)
            if let pm {
                let mj = UnsafeRawPointer(pm).loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                vj *= mj
                wn *= mj
            }
            rw.storeBytes(of: wn, toByteOffset: o, as: SIMD8<Float>.self)
            rv.storeBytes(of: vj, toByteOffset: o, as: SIMD8<Float>.self)
            j += 8
        }
        while j < n {
            let gj = pg[j] + decay * pw[j]
            var vj = mu * pv[j] + gj
            var wn = pw[j] - lr * (nesterov ? gj + mu * vj : vj)
            if let pm { vj *= pm[j]; wn *= pm[j] }
            pv[j] = vj
            pw[j] = wn
            j += 1
        }
    }

    /// Re-applies every parameter's mask to its momentum buffer (call after masks change).
    public func applyMasksToState() {
        guard !storedVelocity.isEmpty else { return }
        flushCompactVelocity()
        for (i, p) in parameters.enumerated() {
            if let mask = p.mask { Parameter.multiply(&storedVelocity[i], by: mask) }
            // frozen weights keep no optimizer state
            storedVelocity[i].scalars.withUnsafeMutableBufferPointer { v in
                for j in p.frozenIndices { v[Int(j)] = 0 }
            }
        }
    }

    public func replaceParameters(_ parameters: [Parameter], keeping: [String: [Int]]) {
        precondition(parameters.map(\.name) == self.parameters.map(\.name), "the parameters must keep their names and order")
        flushCompactVelocity()
        for (i, p) in parameters.enumerated() where !storedVelocity.isEmpty {
            guard let kept = keeping[p.name] else { continue }
            storedVelocity[i] = storedVelocity[i].gathered(kept, shape: p.value.shape)
        }
        self.parameters = parameters
    }

    /// Zeroes all momentum buffers (e.g. at the start of a retraining round).
    public func resetState() {
        compactVelocity = compactVelocity.map { _ in nil }
        for i in storedVelocity.indices { storedVelocity[i].fill(0) }
    }
}

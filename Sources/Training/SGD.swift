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
    /// The threads an update splits over (the trainer gives it its data-parallel team).
    public var team = WorkerTeam(size: 1)

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
    ///
    /// Each parameter is updated over its live entries only (`stepLive`) or over all of them
    /// (`stepAll`, masked ones multiplied by their mask entry); every parameter's entries are
    /// split into one range per team thread and the team updates all of them in one job (each
    /// entry's arithmetic is the same in any split, so the same bits as one pass).
    public func step(learningRate lr: Double) {
        let plans = parameters.indices.map { plan(for: $0) }
        let lr = Float(lr), mu = momentum, nesterov = nesterov
        withSlices(plans) { slices in
            let total = slices.reduce(0) { $0 + $1.count }
            let k = min(team.size, max(1, total / WorkerTeam.minimumPerPart))
            let bounds = slices.map { ParallelRanges.bounds(count: $0.count, parts: k) }
            team.run(parts: k) { part in
                for (i, s) in slices.enumerated() where bounds[i][part] < bounds[i][part + 1] {
                    s.apply(bounds[i][part]..<bounds[i][part + 1], lr: lr, mu: mu, nesterov: nesterov)
                }
            }
        }
        for (i, p) in parameters.enumerated() where !plans[i].live { holdFrozen(i, p) }
    }

    /// How parameter `i` is updated this step: over its trainable live entries when its mask is
    /// sparse enough (frozen weights are not live-updated: the trainable pattern leaves them
    /// out), with its compact momentum prepared; else over every entry, with any compact
    /// momentum written back first.
    private func plan(for i: Int) -> UpdatePlan {
        let p = parameters[i]
        let decay = p.isPrunable ? weightDecay : 0
        if p.mask != nil || !p.frozenIndices.isEmpty, let pattern = p.trainablePattern ?? p.sparsityPattern,
            pattern.density <= SGD.liveUpdateDensity
        {
            if momentum > 0 { prepareCompactMomentum(i, pattern) }
            return UpdatePlan(live: true, pattern: pattern, compactGradient: p.compactPattern === pattern, decay: decay)
        }
        flushCompactVelocity(i)
        return UpdatePlan(live: false, pattern: nil, compactGradient: false, decay: decay)
    }

    /// Calls `body` with every parameter's update slice, its buffers open for the call.
    private func withSlices(_ plans: [UpdatePlan], _ body: ([UpdateSlice]) -> Void) {
        let gradients = parameters.enumerated().map { i, p in plans[i].compactGradient ? p.compactGradient : p.grad.scalars }
        let masks = parameters.map { $0.mask?.scalars ?? [] }
        let entries = plans.map { $0.pattern?.csrFlat ?? [] }
        let weights: [PointerScopes.MutableAccess] = parameters.map { p in
            { body in p.value.scalars.withUnsafeMutableBufferPointer { body($0) } }
        }
        storedVelocity.withUnsafeMutableBufferPointer { storedBuffer in
            compactVelocity.withUnsafeMutableBufferPointer { compactBuffer in
                let stored = storedBuffer, compact = compactBuffer
                // momentum buffers through the arrays' element pointers: one access to each array
                let velocities: [PointerScopes.MutableAccess] =
                    stored.isEmpty
                    ? []
                    : plans.indices.map { i in
                        plans[i].live
                            ? { body in compact[i]!.values.withUnsafeMutableBufferPointer { body($0) } }
                            : { body in stored[i].scalars.withUnsafeMutableBufferPointer { body($0) } }
                    }
                PointerScopes.withMutable(weights + velocities) { mutable in
                    PointerScopes.withReadable(gradients) { g in
                        PointerScopes.withReadable(masks) { m in
                            PointerScopes.withReadable(entries) { idx in
                                let n = plans.count
                                body(
                                    plans.indices.map { i in
                                        UpdateSlice(
                                            plan: plans[i], w: mutable[i], v: velocities.isEmpty ? nil : mutable[n + i], g: g[i],
                                            mask: plans[i].live || parameters[i].mask == nil ? nil : m[i], entries: idx[i])
                                    })
                            }
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

    @inline(__always)
    fileprivate static func liveUpdate(
        _ range: Range<Int>, _ idx: UnsafeBufferPointer<Int32>, _ w: UnsafeMutableBufferPointer<Float>,
        _ g: UnsafeBufferPointer<Float>, compact: Bool, lr: Float, decay: Float
    ) {
        for k in range {
            let j = Int(idx[k])
            w[j] = w[j] - lr * ((compact ? g[k] : g[j]) + decay * w[j])
        }
    }

    @inline(__always)
    fileprivate static func liveMomentumUpdate(
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

/// How one parameter is updated in a step (see `SGD.plan(for:)`).
private struct UpdatePlan {
    /// Over the live entries of `pattern` only (else over every entry).
    var live: Bool
    var pattern: SparsityPattern?
    /// The gradient of live entry k is the compact gradient's entry k (else at its flat index).
    var compactGradient: Bool
    var decay: Float
}

/// One parameter's buffers for a step: `count` entries to update (live entries or all), any
/// contiguous range of which `apply` updates on its own.
private struct UpdateSlice {
    let plan: UpdatePlan
    let w: UnsafeMutableBufferPointer<Float>
    /// Momentum: compact (live entry k at k) for a live update, dense otherwise; nil without momentum.
    let v: UnsafeMutableBufferPointer<Float>?
    let g: UnsafeBufferPointer<Float>
    /// The mask of a masked parameter updated over every entry (its entries multiply `w` and `v`).
    let mask: UnsafeBufferPointer<Float>?
    /// The live entries' flat indices (CSR order) of a live update.
    let entries: UnsafeBufferPointer<Int32>

    var count: Int { plan.live ? entries.count : w.count }

    /// The update of entries `r` (live entries `r` in CSR order, or flat indices `r`).
    func apply(_ r: Range<Int>, lr: Float, mu: Float, nesterov: Bool) {
        let decay = plan.decay
        if plan.live {
            if let v {
                SGD.liveMomentumUpdate(
                    r, entries, w, v, g, compact: plan.compactGradient, lr: lr, mu: mu, decay: decay, nesterov: nesterov)
            } else {
                SGD.liveUpdate(r, entries, w, g, compact: plan.compactGradient, lr: lr, decay: decay)
            }
            return
        }
        if let v {
            SGD.momentumUpdate(
                w: UnsafeMutableBufferPointer(rebasing: w[r]), v: UnsafeMutableBufferPointer(rebasing: v[r]),
                g: UnsafeBufferPointer(rebasing: g[r]), mask: mask.map { UnsafeBufferPointer(rebasing: $0[r]) },
                lr: lr, mu: mu, decay: decay, nesterov: nesterov)
            return
        }
        for j in r {
            let wj = w[j] - lr * (g[j] + decay * w[j])
            w[j] = mask.map { wj * $0[j] } ?? wj
        }
    }
}

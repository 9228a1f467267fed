import TensorCore

/// Batch normalization (Ioffe & Szegedy 2015) per channel of `[B, C, H, W]` (statistics over
/// B, H and W) or per feature of `[B, C]` (over B).
///
/// Training: `y = gamma * (x - mean) / sqrt(var + epsilon) + beta` with the batch's mean and
/// biased variance (accumulated in Double). Evaluation uses the running mean and variance
/// instead. The batch statistics are folded into the running ones only when the trainer
/// commits them after the step (`commitStatistics`, pooled over data-parallel parts):
/// `running = (1 - momentum) * running + momentum * batch`, with the batch variance made
/// unbiased (`n / (n - 1)`), PyTorch's convention. Defaults: momentum 0.1, epsilon 1e-5.
/// Parameters `bn1.gamma` (starts at 1) and `bn1.beta` (0), neither prunable; the running
/// statistics (start 0 and 1) are checkpointed and written to model files.
public final class BatchNorm: Layer, Checkpointable {
    public let name: String
    public let channels: Int
    public let momentum: Double
    public let epsilon: Double
    public let gamma: Parameter
    public let beta: Parameter
    public var runningMean: Tensor
    public var runningVar: Tensor
    /// The last training pass's per-channel mean, biased variance and values per channel,
    /// until `commitStatistics` consumes them (count 0 afterwards).
    public private(set) var batchMean: [Double] = []
    public private(set) var batchVar: [Double] = []
    public private(set) var batchCount = 0
    /// Cached by forward for backward: the normalized input, 1/sqrt(var + eps) per channel,
    /// and whether the statistics were the batch's (training) or the running ones.
    private var normalized = Tensor(shape: [0])
    private var invStd: [Float] = []
    private var usedBatchStatistics = true
    /// Normalize with the batch's statistics even in evaluation passes (for re-estimating
    /// the running statistics with everything else in evaluation mode).
    public var alwaysUseBatchStatistics = false

    public init(name: String, channels: Int, momentum: Double = 0.1, epsilon: Double = 1e-5) {
        precondition(channels > 0, "\(name): channels must be positive, got \(channels)")
        precondition(momentum >= 0 && momentum <= 1 && epsilon > 0, "\(name): momentum \(momentum), epsilon \(epsilon)")
        self.name = name
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        gamma = Parameter(name: "\(name).gamma", value: Tensor(shape: [channels], repeating: 1), isPrunable: false, initialValue: 1)
        beta = Parameter(name: "\(name).beta", value: Tensor(shape: [channels]), isPrunable: false)
        runningMean = Tensor(shape: [channels])
        runningVar = Tensor(shape: [channels], repeating: 1)
    }

    public var parameters: [Parameter] { [gamma, beta] }

    public func replica() -> Layer { BatchNorm(name: name, channels: channels, momentum: momentum, epsilon: epsilon) }

    public func shareState(from master: Layer) {
        guard let m = master as? BatchNorm else { return }
        runningMean = m.runningMean
        runningVar = m.runningVar
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(
            (inputShape.count == 1 || inputShape.count == 3) && inputShape[0] == channels,
            "\(name) expects [\(channels)] or [\(channels), H, W] per sample, got \(inputShape)")
        return inputShape
    }

    /// Values per channel and sample (H*W for images, 1 for features).
    private func plane(_ x: Tensor) -> Int {
        precondition(x.rank >= 2 && x.shape[1] == channels, "\(name) expects [B, \(channels), ...] input, got \(x.shape)")
        return x.count / max(1, x.shape[0] * channels)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let p = plane(x), batch = x.shape[0], n = batch * p
        usedBatchStatistics = training || alwaysUseBatchStatistics
        var mean = [Double](repeating: 0, count: channels), variance = mean
        if usedBatchStatistics {
            (mean, variance) = statistics(x, plane: p)
            batchMean = mean
            batchVar = variance
            batchCount = n
        } else {
            mean = runningMean.scalars.map(Double.init)
            variance = runningVar.scalars.map(Double.init)
        }
        invStd = variance.map { Float(1 / ($0 + epsilon).squareRoot()) }
        let m = mean.map(Float.init)
        var xhat = x, y = x
        xhat.scalars.withUnsafeMutableBufferPointer { h in
            y.scalars.withUnsafeMutableBufferPointer { out in
                for b in 0..<batch {
                    for c in 0..<channels {
                        let base = (b * channels + c) * p, s = invStd[c], g = gamma.value.scalars[c], sh = beta.value.scalars[c]
                        for t in base..<(base + p) {
                            h[t] = (h[t] - m[c]) * s
                            out[t] = g * h[t] + sh
                        }
                    }
                }
            }
        }
        normalized = xhat
        return y
    }

    /// Per-channel mean and biased variance of `x` (two passes, in Double).
    private func statistics(_ x: Tensor, plane p: Int) -> ([Double], [Double]) {
        let batch = x.shape[0], n = Double(batch * p)
        var mean = [Double](repeating: 0, count: channels), variance = mean
        x.scalars.withUnsafeBufferPointer { px in
            for b in 0..<batch {
                for c in 0..<channels {
                    let base = (b * channels + c) * p
                    for t in base..<(base + p) { mean[c] += Double(px[t]) }
                }
            }
            for c in 0..<channels { mean[c] /= n }
            for b in 0..<batch {
                for c in 0..<channels {
                    let base = (b * channels + c) * p
                    for t in base..<(base + p) {
                        let d = Double(px[t]) - mean[c]
                        variance[c] += d * d
                    }
                }
            }
        }
        return (mean, variance.map { $0 / n })
    }

    /// Training: `dx = gamma/sigma * (dy - mean(dy) - xhat * mean(dy * xhat))` per channel;
    /// evaluation (fixed statistics): `dx = gamma/sigma * dy`. `dgamma = sum(dy * xhat)`,
    /// `dbeta = sum(dy)`.
    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        precondition(dy.shape == normalized.shape, "\(name): gradient \(dy.shape) does not match the forward output \(normalized.shape)")
        let p = plane(dy), batch = dy.shape[0], n = Double(batch * p)
        var dGamma = [Double](repeating: 0, count: channels), dBeta = dGamma
        dy.scalars.withUnsafeBufferPointer { g in
            normalized.scalars.withUnsafeBufferPointer { h in
                for b in 0..<batch {
                    for c in 0..<channels {
                        let base = (b * channels + c) * p
                        for t in base..<(base + p) {
                            dBeta[c] += Double(g[t])
                            dGamma[c] += Double(g[t]) * Double(h[t])
                        }
                    }
                }
            }
        }
        gamma.grad = Tensor(shape: [channels], scalars: dGamma.map(Float.init))
        beta.grad = Tensor(shape: [channels], scalars: dBeta.map(Float.init))
        guard needInputGrad else { return nil }
        var dx = dy
        let train = usedBatchStatistics
        dx.scalars.withUnsafeMutableBufferPointer { g in
            normalized.scalars.withUnsafeBufferPointer { h in
                for c in 0..<channels {
                    let scale = gamma.value.scalars[c] * invStd[c]
                    let mdb = Float(dBeta[c] / n), mdg = Float(dGamma[c] / n)
                    for b in 0..<batch {
                        let base = (b * channels + c) * p
                        for t in base..<(base + p) {
                            g[t] = train ? scale * (g[t] - mdb - h[t] * mdg) : scale * g[t]
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Folds the last training pass's statistics, pooled with those of the same layer in
    /// `others` (data-parallel replicas, each weighted by its values per channel), into the
    /// running statistics, and clears them. A no-op when nothing is pending.
    public func commitStatistics(pooledWith others: [BatchNorm] = []) {
        let parts = ([self] + others).filter { $0.batchCount > 0 }
        let n = Double(parts.reduce(0) { $0 + $1.batchCount })
        guard n > 0 else { return }
        var rm = runningMean.scalars, rv = runningVar.scalars
        for c in 0..<channels {
            let mean = parts.reduce(0.0) { $0 + Double($1.batchCount) * $1.batchMean[c] } / n
            let biased =
                parts.reduce(0.0) { acc, q in
                    let d = q.batchMean[c] - mean
                    return acc + Double(q.batchCount) * (q.batchVar[c] + d * d)
                } / n
            let unbiased = n > 1 ? biased * n / (n - 1) : biased
            rm[c] = Float((1 - momentum) * Double(rm[c]) + momentum * mean)
            rv[c] = Float((1 - momentum) * Double(rv[c]) + momentum * unbiased)
        }
        runningMean = Tensor(shape: [channels], scalars: rm)
        runningVar = Tensor(shape: [channels], scalars: rv)
        for q in parts { q.batchCount = 0 }
    }

    /// Drops the last training pass's statistics without using them.
    public func clearPendingStatistics() { batchCount = 0 }

    /// The per-channel affine map of evaluation mode, `y = scale * x + shift`:
    /// `scale = gamma / sqrt(running_var + eps)`, `shift = beta - scale * running_mean`.
    public var evaluationAffine: (scale: [Float], shift: [Float]) {
        let scale = (0..<channels).map { c in
            Float(Double(gamma.value.scalars[c]) / (Double(runningVar.scalars[c]) + epsilon).squareRoot())
        }
        let shift = (0..<channels).map { c in beta.value.scalars[c] - scale[c] * runningMean.scalars[c] }
        return (scale, shift)
    }

    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/running_mean", runningMean.scalars)
        archive.set("\(prefix)/running_var", runningVar.scalars)
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        runningMean = try archive.tensor("\(prefix)/running_mean", shape: [channels])
        runningVar = try archive.tensor("\(prefix)/running_var", shape: [channels])
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int { 2 * inputShape.reduce(1, *) }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        inputShape.reduce(1, *) * (needInputGrad ? 6 : 3)
    }
}

import TensorCore

/// Batch norm folded into the conv or dense layer right before it, for inference and
/// compaction (Jacob et al. 2018, section 3.2).
///
/// At evaluation a batch norm is the per-channel affine map `y = scale * z + shift`
/// (`scale = gamma / sqrt(running_var + eps)`, `shift = beta - scale * running_mean`), so for
/// `z = W x + b` it equals one layer with `W'[o, :] = scale[o] * W[o, :]` and
/// `b'[o] = scale[o] * b[o] + shift[o]`. Masks of `W` and `b` carry over.
extension Sequential {
    /// This model with every top-level batch norm that directly follows a `Conv2D` or `Dense`
    /// folded into it; other layers are copies (values, masks, running state). Computes the
    /// same evaluation-mode function up to float rounding. `self` when there is nothing to fold.
    public func foldingBatchNorms() -> Sequential {
        let foldable = layers.indices.dropFirst().contains { layers[$0] is BatchNorm && Self.folds(layers[$0 - 1]) }
        guard foldable else { return self }
        var out: [Layer] = []
        var i = 0
        while i < layers.count {
            if i + 1 < layers.count, Self.folds(layers[i]), let bn = layers[i + 1] as? BatchNorm {
                out.append(Self.fold(layers[i], into: bn))
                i += 2
            } else {
                out.append(layers[i].copy())
                i += 1
            }
        }
        return Sequential(layers: out, inputShape: inputShape, loss: loss)
    }

    static func folds(_ layer: Layer) -> Bool { layer is Conv2D || layer is Dense }

    /// `layer` (a `Conv2D` or `Dense`) with `bn`'s evaluation map folded in.
    static func fold(_ layer: Layer, into bn: BatchNorm) -> Layer {
        let folded = layer.copy()
        guard let w = folded.prunableWeight, let b = folded.biasParameter else { return folded }
        let (scale, shift) = bn.evaluationAffine
        let rows = w.value.shape[0], d = w.value.count / rows
        precondition(rows == bn.channels, "\(bn.name) has \(bn.channels) channels, \(layer.name) \(rows) outputs")
        w.value.scalars.withUnsafeMutableBufferPointer { pw in
            for o in 0..<rows {
                for j in 0..<d { pw[o * d + j] *= scale[o] }
            }
        }
        b.value.scalars.withUnsafeMutableBufferPointer { pb in
            for o in 0..<rows { pb[o] = scale[o] * pb[o] + shift[o] }
        }
        w.applyMask()
        b.applyMask()
        return folded
    }
}

extension Sequential {
    /// Re-estimates every batch norm's running statistics as the exact mean and unbiased
    /// variance of its input over `images` (fed in chunks of `chunk` samples, every other layer
    /// in evaluation mode: dropout off), e.g. after pruning changed what the layers before it
    /// compute. No weight changes.
    public func recalibrateBatchNorms(images: Tensor, chunk: Int = 256) {
        let norms = leafLayers.compactMap { $0 as? BatchNorm }
        guard !norms.isEmpty, images.rows > 0 else { return }
        var parts = [[(mean: [Double], variance: [Double], count: Int)]](repeating: [], count: norms.count)
        for bn in norms { bn.alwaysUseBatchStatistics = true }
        defer { for bn in norms { bn.alwaysUseBatchStatistics = false } }
        let size = images.rowSize, sample = Array(images.shape.dropFirst())
        for lo in stride(from: 0, to: images.rows, by: chunk) {
            let hi = min(images.rows, lo + chunk)
            _ = forward(Tensor(shape: [hi - lo] + sample, scalars: Array(images.scalars[(lo * size)..<(hi * size)])), training: false)
            for (i, bn) in norms.enumerated() { parts[i].append((bn.batchMean, bn.batchVar, bn.batchCount)) }
        }
        for (bn, p) in zip(norms, parts) { bn.setRunningStatistics(pooling: p) }
    }
}

extension BatchNorm {
    /// Sets the running statistics to the pooled mean and unbiased variance of `parts`
    /// (each a per-channel mean, biased variance and count), and clears the pending batch.
    public func setRunningStatistics(pooling parts: [(mean: [Double], variance: [Double], count: Int)]) {
        let n = Double(parts.reduce(0) { $0 + $1.count })
        guard n > 0 else { return }
        var rm = [Float](repeating: 0, count: channels), rv = rm
        for c in 0..<channels {
            let mean = parts.reduce(0.0) { $0 + Double($1.count) * $1.mean[c] } / n
            let biased = parts.reduce(0.0) { $0 + Double($1.count) * ($1.variance[c] + ($1.mean[c] - mean) * ($1.mean[c] - mean)) } / n
            rm[c] = Float(mean)
            rv[c] = Float(n > 1 ? biased * n / (n - 1) : biased)
        }
        runningMean = Tensor(shape: [channels], scalars: rm)
        runningVar = Tensor(shape: [channels], scalars: rv)
        clearPendingStatistics()
    }
}

extension Layer {
    /// A new layer of the same shape holding this one's parameter values and masks and its
    /// non-trained state (running statistics), composites' layers included.
    public func copy() -> Layer {
        let c = replica()
        for (mine, theirs) in zip(c.parameters, parameters) {
            mine.value = theirs.value
            mine.setMask(theirs.mask)
        }
        for (mine, theirs) in zip(c.flattened, flattened) { mine.shareState(from: theirs) }
        return c
    }
}

extension BatchNorm {
    /// The batch norm of the `kept` channels (values, masks and running statistics copied).
    public func compacted(channels kept: [Int]) -> BatchNorm {
        let bn = BatchNorm(name: name, channels: kept.count, momentum: momentum, epsilon: epsilon)
        Parameter.copy(gamma, at: kept, into: bn.gamma)
        Parameter.copy(beta, at: kept, into: bn.beta)
        bn.runningMean = Tensor(shape: [kept.count], scalars: kept.map { runningMean.scalars[$0] })
        bn.runningVar = Tensor(shape: [kept.count], scalars: kept.map { runningVar.scalars[$0] })
        return bn
    }
}

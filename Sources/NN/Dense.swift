import TensorCore

/// Fully connected layer `y = x W^T + b`.
///
/// `weight` is `[out, in]` row-major (PyTorch's layout), `bias` is `[out]`. An input of any rank
/// `[B, ...]` is flattened to `[B, in]`; the input gradient is returned in the input's shape.
public final class Dense: SparseCapableLayer {
    public let name: String
    public let inputSize: Int
    public let outputSize: Int
    public let weight: Parameter
    public let bias: Parameter
    private var input = Tensor(shape: [0])
    private var inputShape: [Int] = []
    /// Rows of the latest forward's input (`input` stays empty after a gathered sparse forward,
    /// whose input lives transposed in `scratch`).
    private var inputRows = 0
    /// Which product runs once the weight has a mask (see `KernelPolicy`); without a mask the
    /// dense SGEMM path always runs, unchanged.
    public var kernelPolicy: KernelPolicy = .auto
    public var kernelChoices = KernelChoices()
    /// The product the latest forward pass ran.
    public private(set) var lastKernel: KernelKind = .dense
    /// Sparse path state: the pattern the latest forward used (nil after a dense forward),
    /// transposed buffers, and whether the latest backward was asked for the input gradient (for the crossover key);
    /// `weight.gradientPattern` says which pattern's pruned entries are zero in `weight.grad`;
    /// a sparse backward leaves the weight gradient compact (`Parameter.compactGradient`).
    private var forwardPattern: SparsityPattern?
    private var scratch = SparseScratch()
    private var wantsInputGradient = true
    private var lastTrainingBatch: Int?

    public init(name: String, inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "\(name): sizes must be positive, got \(inputSize)->\(outputSize)")
        self.name = name
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(name: "\(name).weight", value: Tensor(shape: [outputSize, inputSize]), isPrunable: true)
        bias = Parameter(name: "\(name).bias", value: Tensor(shape: [outputSize]), isPrunable: false)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func replica() -> Layer {
        let d = Dense(name: name, inputSize: inputSize, outputSize: outputSize)
        d.kernelPolicy = kernelPolicy
        d.kernelChoices = kernelChoices
        return d
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.reduce(1, *) == inputSize, "\(name) expects \(inputSize) inputs, got shape \(inputShape)")
        return [outputSize]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let batch = x.rows
        precondition(x.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(x.shape)")
        input = x
        inputShape = x.shape
        inputRows = batch
        if let pattern = sparsePattern(batch: batch, training: training) { return sparseForward(x, pattern: pattern) }
        forwardPattern = nil
        lastKernel = .dense
        var y = Tensor(uninitializedShape: [batch, outputSize])  // bias rows copied in below
        let out = outputSize, inp = inputSize
        bias.value.scalars.withUnsafeBufferPointer { b in
            y.scalars.withUnsafeMutableBufferPointer { py in
                for r in 0..<batch {
                    (py.baseAddress! + r * out).update(from: b.baseAddress!, count: out)
                }
                x.scalars.withUnsafeBufferPointer { px in
                    weight.value.scalars.withUnsafeBufferPointer { pw in
                        BLAS.sgemm(
                            transA: false, transB: true, m: batch, n: out, k: inp,
                            a: px.baseAddress!, b: pw.baseAddress!, beta: 1, c: py.baseAddress!)
                    }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        let batch = dy.rows
        let out = outputSize, inp = inputSize
        precondition(dy.shape == [batch, out] && inputRows == batch, "\(name): gradient \(dy.shape) does not match the forward batch")
        wantsInputGradient = needInputGrad
        if let pattern = forwardPattern { return sparseBackward(dy, pattern: pattern, needInputGrad: needInputGrad) }
        weight.gradientPattern = nil
        dy.scalars.withUnsafeBufferPointer { pdy in
            input.scalars.withUnsafeBufferPointer { px in
                weight.grad.scalars.withUnsafeMutableBufferPointer { pgw in
                    // dW[out, in] = dy^T [out, B] * x [B, in]
                    BLAS.sgemm(
                        transA: true, transB: false, m: out, n: inp, k: batch,
                        a: pdy.baseAddress!, b: px.baseAddress!, c: pgw.baseAddress!)
                }
            }
            bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                pgb.update(repeating: 0)
                for r in 0..<batch {
                    let row = pdy.baseAddress! + r * out
                    for j in 0..<out { pgb[j] += row[j] }
                }
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor(uninitializedShape: inputShape)  // sgemm with beta 0 writes every entry
        dy.scalars.withUnsafeBufferPointer { pdy in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                dx.scalars.withUnsafeMutableBufferPointer { pdx in
                    // dx[B, in] = dy [B, out] * W [out, in]
                    BLAS.sgemm(
                        transA: false, transB: false, m: batch, n: inp, k: out,
                        a: pdy.baseAddress!, b: pw.baseAddress!, c: pdx.baseAddress!)
                }
            }
        }
        return dx
    }

    /// `forward` on a batch given by its rows in a set, when the sparse path applies: the rows
    /// are gathered and transposed into the kernels' `x^T` in one pass (the same `x^T` as
    /// `forward` on the copied batch, so the same bits), saving the row-major copy of the batch
    /// and its transpose. Nil when the dense path applies: the caller then copies the batch and
    /// calls `forward`.
    public func forward(gathering batch: RowGather, training: Bool) -> Tensor? {
        let n = batch.count
        precondition(batch.source.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(batch.source.shape)")
        guard let pattern = sparsePattern(batch: n, training: training) else { return nil }
        input = Dense.noInput
        inputShape = batch.shape
        inputRows = n
        return batch.source.scalars.withUnsafeBufferPointer { src in
            batch.rows.withUnsafeBufferPointer { rows in
                sparseForward(batch: n, pattern: pattern) { scratch, w, b, y in
                    scratch.forward(pattern: pattern, w: w, bias: b, source: src.baseAddress!, rows: rows, y: y)
                }
            }
        }
    }

    private static let noInput = Tensor(shape: [0])

    /// The pattern to run the sparse kernels on for this batch, or nil for the dense path.
    /// Inference passes (`training: false`, e.g. evaluation in batches of 1000) are not timed:
    /// they follow the choice measured for the latest training batch, dense when none exists.
    private func sparsePattern(batch: Int, training: Bool) -> SparsityPattern? {
        guard kernelPolicy != .dense, batch > 0, let pattern = weight.sparsityPattern else { return nil }
        if kernelPolicy == .sparse { return pattern }
        if kernelPolicy == .auto { return pattern.density <= KernelCrossover.autoDensity ? pattern : nil }
        let choice: KernelKind
        if training {
            lastTrainingBatch = batch
            choice = KernelCrossover.choice(for: self, pattern: pattern, batch: batch, inputGradient: wantsInputGradient)
        } else {
            choice =
                lastTrainingBatch.map {
                    KernelCrossover.cachedChoice(for: self, pattern: pattern, batch: $0, inputGradient: wantsInputGradient)
                } ?? .dense
        }
        return choice == .sparse ? pattern : nil
    }

    private func sparseForward(_ x: Tensor, pattern: SparsityPattern) -> Tensor {
        x.scalars.withUnsafeBufferPointer { px in
            sparseForward(batch: x.rows, pattern: pattern) { scratch, w, b, y in
                scratch.forward(pattern: pattern, w: w, bias: b, x: px.baseAddress!, batch: x.rows, y: y)
            }
        }
    }

    /// The sparse forward's output `[batch, out]`, filled by `run(scratch, W, bias, y)` (which
    /// puts the batch into the scratch's `x^T`, from a tensor or gathered from a set).
    private func sparseForward(
        batch: Int, pattern: SparsityPattern,
        _ run: (inout SparseScratch, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) -> Tensor {
        forwardPattern = pattern
        lastKernel = .sparse
        var y = Tensor(uninitializedShape: [batch, outputSize])
        weight.value.scalars.withUnsafeBufferPointer { pw in
            bias.value.scalars.withUnsafeBufferPointer { pb in
                y.scalars.withUnsafeMutableBufferPointer { py in
                    run(&scratch, pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                }
            }
        }
        return y
    }

    private func sparseBackward(_ dy: Tensor, pattern forward: SparsityPattern, needInputGrad: Bool) -> Tensor? {
        let batch = dy.rows
        // frozen live weights get no gradient: the SDDMM walks the trainable entries only
        let pattern = weight.trainablePattern ?? forward
        if weight.gradientPattern !== pattern {
            // pruned entries are never written by the sparse weight gradient: zero them once
            // per pattern (held, not compared by address, so a new pattern allocated where a
            // freed one was cannot pass for it)
            weight.zeroGradient()
            weight.gradientPattern = pattern
        }
        var dx = needInputGrad ? Tensor(uninitializedShape: inputShape) : nil
        dy.scalars.withUnsafeBufferPointer { pdy in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                weight.writeCompactGradient(pattern) { pg in
                    bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                        // pg.baseAddress is nil only for an empty pattern, where nothing is written
                        if dx != nil {
                            dx!.scalars.withUnsafeMutableBufferPointer { pdx in
                                scratch.backward(
                                    pattern: forward, gradientPattern: pattern, w: pw.baseAddress!, dy: pdy.baseAddress!,
                                    batch: batch, gradW: pg.baseAddress, gradB: pgb.baseAddress!, dx: pdx.baseAddress!)
                            }
                        } else {
                            scratch.backward(
                                pattern: forward, gradientPattern: pattern, w: pw.baseAddress!, dy: pdy.baseAddress!,
                                batch: batch, gradW: pg.baseAddress, gradB: pgb.baseAddress!, dx: nil)
                        }
                    }
                }
            }
        }
        return dx
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        let w = activeOnly ? weight.activeCount : weight.value.count
        return 2 * w + outputSize
    }

    /// The weight gradient's `2 w` counts trainable weights only (frozen ones get none).
    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        let w = activeOnly ? weight.activeCount : weight.value.count
        let trained = activeOnly ? weight.trainableCount : weight.value.count
        return 2 * trained + outputSize + (needInputGrad ? 2 * w : 0)
    }
}

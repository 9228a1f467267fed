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
    /// Layouts of the latest forward: whether its input came, and its output went, transposed
    /// (`TransposedBatch`, handed over between consecutive sparse layers by `Sequential`);
    /// backward takes `dy` in the output's layout and gives `dx` in the input's.
    public private(set) var inputTransposed = false
    public private(set) var outputTransposed = false
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
        precondition(x.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(x.shape)")
        return forward(.rowMajor(x), pattern: kernelPattern(batch: x.rows, training: training), transposedOutput: false).rowMajor
    }

    /// `forward` of a batch in either layout on the product chosen beforehand by
    /// `kernelPattern` (nil: the dense path, rows in and out); the output transposed, for a next
    /// sparse layer, when `transposedOutput` (sparse path only).
    func forward(_ x: LayerValues, pattern: SparsityPattern?, transposedOutput: Bool) -> LayerValues {
        switch x {
        case .rowMajor(let x):
            precondition(x.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(x.shape)")
            input = x
            inputShape = x.shape
            inputRows = x.rows
            guard let pattern else {
                precondition(!transposedOutput, "\(name): the dense path gives rows")
                return .rowMajor(denseForward(x))
            }
            return x.scalars.withUnsafeBufferPointer { px in
                sparseForward(batch: x.rows, pattern: pattern, transposedOutput: transposedOutput) {
                    $0.loadInput(rows: px.baseAddress!, batch: x.rows, inputs: inputSize)
                }
            }
        case .transposed(let xt):
            guard let pattern else { preconditionFailure("\(name): a transposed input on the dense path") }
            precondition(xt.features == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(xt.features)")
            input = Dense.noInput
            inputShape = [xt.batch, inputSize]
            inputRows = xt.batch
            return sparseForward(batch: xt.batch, pattern: pattern, transposedOutput: transposedOutput) { $0.loadInput(xt) }
        }
    }

    private func denseForward(_ x: Tensor) -> Tensor {
        let batch = x.rows
        forwardPattern = nil
        lastKernel = .dense
        inputTransposed = false
        outputTransposed = false
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
        backward(.rowMajor(dy), needInputGrad: needInputGrad).map(\.rowMajor)
    }

    /// `backward` with `dy` in the layout of the latest forward's output, giving `dx` in the
    /// layout of its input.
    func backward(_ dy: LayerValues, needInputGrad: Bool) -> LayerValues? {
        switch dy {
        case .rowMajor(let t):
            precondition(
                !outputTransposed && t.shape == [t.rows, outputSize] && inputRows == t.rows,
                "\(name): gradient \(t.shape) does not match the forward batch")
        case .transposed(let t):
            precondition(
                outputTransposed && t.features == outputSize && t.batch == inputRows,
                "\(name): transposed gradient [\(t.features), \(t.batch)] does not match the forward batch")
        }
        wantsInputGradient = needInputGrad
        if let pattern = forwardPattern { return sparseBackward(dy, pattern: pattern, needInputGrad: needInputGrad) }
        return denseBackward(dy.rowMajor, needInputGrad: needInputGrad).map(LayerValues.rowMajor)
    }

    private func denseBackward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        let batch = dy.rows
        let out = outputSize, inp = inputSize
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
        precondition(batch.source.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(batch.source.shape)")
        guard let pattern = kernelPattern(batch: batch.count, training: training) else { return nil }
        return forward(gathering: batch, pattern: pattern, transposedOutput: false).rowMajor
    }

    /// `forward(gathering:training:)` on the sparse path with the pattern `kernelPattern` chose.
    func forward(gathering batch: RowGather, pattern: SparsityPattern, transposedOutput: Bool) -> LayerValues {
        let n = batch.count
        precondition(batch.source.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(batch.source.shape)")
        input = Dense.noInput
        inputShape = batch.shape
        inputRows = n
        return batch.source.scalars.withUnsafeBufferPointer { src in
            batch.rows.withUnsafeBufferPointer { rows in
                sparseForward(batch: n, pattern: pattern, transposedOutput: transposedOutput) {
                    $0.loadInput(gathering: src.baseAddress!, rows: rows, inputs: inputSize)
                }
            }
        }
    }

    private static let noInput = Tensor(shape: [0])

    /// The pattern to run the sparse kernels on for this batch, or nil for the dense path.
    /// Inference passes (`training: false`, e.g. evaluation in batches of 1000) are not timed:
    /// they follow the choice measured for the latest training batch, dense when none exists.
    func kernelPattern(batch: Int, training: Bool) -> SparsityPattern? {
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

    /// The sparse forward: `load` puts the batch into the scratch's `x^T` (transposed from rows,
    /// gathered from a set, or handed over transposed), then `y` rows or `y^T` transposed.
    private func sparseForward(
        batch: Int, pattern: SparsityPattern, transposedOutput: Bool, load: (inout SparseScratch) -> Void
    ) -> LayerValues {
        forwardPattern = pattern
        lastKernel = .sparse
        load(&scratch)
        inputTransposed = scratch.handedInput != nil
        outputTransposed = transposedOutput
        return weight.value.scalars.withUnsafeBufferPointer { pw in
            bias.value.scalars.withUnsafeBufferPointer { pb in
                if transposedOutput {
                    return .transposed(scratch.forwardTransposed(pattern: pattern, w: pw.baseAddress!, bias: pb.baseAddress!, batch: batch))
                }
                var y = Tensor(uninitializedShape: [batch, outputSize])
                y.scalars.withUnsafeMutableBufferPointer { py in
                    scratch.forward(pattern: pattern, w: pw.baseAddress!, bias: pb.baseAddress!, batch: batch, y: py.baseAddress!)
                }
                return .rowMajor(y)
            }
        }
    }

    private func sparseBackward(_ dy: LayerValues, pattern forward: SparsityPattern, needInputGrad: Bool) -> LayerValues? {
        // frozen live weights get no gradient: the SDDMM walks the trainable entries only
        let pattern = weight.trainablePattern ?? forward
        if weight.gradientPattern !== pattern {
            // pruned entries are never written by the sparse weight gradient: zero them once
            // per pattern (held, not compared by address, so a new pattern allocated where a
            // freed one was cannot pass for it)
            weight.zeroGradient()
            weight.gradientPattern = pattern
        }
        return weight.value.scalars.withUnsafeBufferPointer { pw in
            weight.writeCompactGradient(pattern) { pg in
                bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                    // pg.baseAddress is nil only for an empty pattern, where nothing is written
                    scratch.backward(
                        pattern: forward, gradientPattern: pattern, w: pw.baseAddress!, dy: dy, batch: inputRows,
                        gradW: pg.baseAddress, gradB: pgb.baseAddress!, dxShape: needInputGrad ? inputShape : nil,
                        transposedDx: inputTransposed)
                }
            }
        }
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

import TensorCore

/// A feed-forward stack of layers ending in a fused output loss.
///
/// `inputShape` is per sample (`[C, H, W]` or `[features]`). Layers up to the first one with
/// parameters are never asked for their input gradient (nothing before them learns).
public final class Sequential {
    public private(set) var layers: [Layer]
    public let inputShape: [Int]
    public let loss: LossKind
    /// Per-sample input shape of each layer.
    public private(set) var layerInputShapes: [[Int]]
    /// Every layer with the layers inside composites (`Block`) expanded, depth first, and the
    /// per-sample input shape of each.
    public private(set) var leafLayers: [Layer]
    public private(set) var leafInputShapes: [[Int]]
    /// Index of the first layer with parameters; backward stops there.
    public private(set) var firstTrainable: Int
    /// Whether consecutive sparse dense layers (with only element-wise activations between
    /// them) pass activations forward and gradients backward transposed (`TransposedBatch`, the
    /// sparse kernels' layout) instead of untransposing after one layer and transposing again
    /// before the next. The same bits either way; off only to compare the two.
    public var keepsSparseActivationsTransposed = true

    public init(layers: [Layer], inputShape: [Int], loss: LossKind) {
        precondition(!layers.isEmpty, "a model needs at least one layer")
        self.layers = layers
        self.inputShape = inputShape
        self.loss = loss
        (layerInputShapes, leafLayers, leafInputShapes, firstTrainable) = Self.structure(layers, inputShape: inputShape)
        let choices = KernelChoices()
        for case let d as SparseCapableLayer in leafLayers { d.kernelChoices = choices }
        let names = parameters.map(\.name)
        precondition(Set(names).count == names.count, "duplicate parameter names in \(names)")
    }

    /// The per-layer input shapes, the leaves with theirs, and the first layer with parameters.
    private static func structure(
        _ layers: [Layer], inputShape: [Int]
    ) -> (shapes: [[Int]], leaves: [Layer], leafShapes: [[Int]], firstTrainable: Int) {
        var shapes: [[Int]] = []
        var s = inputShape
        for layer in layers {
            shapes.append(s)
            s = layer.outputShape(for: s)
        }
        let leaves = zip(layers, shapes).flatMap { $0.leaves(inputShape: $1) }
        return (shapes, leaves.map(\.layer), leaves.map(\.inputShape), layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count)
    }

    /// Replaces the layers in place (the model object stays, so whoever holds it sees the new
    /// layers): the same input shape and loss, the new layers' shapes; sparse-capable layers get
    /// the model's kernel policy and its shared kernel choices (keyed by shape, so the measured
    /// ones stay valid).
    public func replaceLayers(_ newLayers: [Layer]) {
        precondition(!newLayers.isEmpty, "a model needs at least one layer")
        let policy = kernelPolicy, choices = kernelChoices ?? KernelChoices()
        layers = newLayers
        (layerInputShapes, leafLayers, leafInputShapes, firstTrainable) = Self.structure(newLayers, inputShape: inputShape)
        for case let d as SparseCapableLayer in leafLayers {
            d.kernelChoices = choices
            d.kernelPolicy = policy
        }
        let names = parameters.map(\.name)
        precondition(Set(names).count == names.count, "duplicate parameter names in \(names)")
    }

    /// A model of the same architecture with its own layer caches and gradients; call
    /// `shareWeights(from:)` before each use so it computes with the current weights.
    public func replica() -> Sequential {
        Sequential(layers: layers.map { $0.replica() }, inputShape: inputShape, loss: loss)
    }

    /// Points this replica's parameter values at `master`'s buffers (O(1): copy-on-write
    /// sharing, no copy as long as neither side writes).
    public func shareWeights(from master: Sequential) {
        for (mine, theirs) in zip(parameters, master.parameters) {
            mine.value = theirs.value
            mine.sharePattern(from: theirs)
        }
        for (mine, theirs) in zip(leafLayers, master.leafLayers) {
            mine.shareState(from: theirs)
            if let d = mine as? SparseCapableLayer, let m = theirs as? SparseCapableLayer {
                d.kernelPolicy = m.kernelPolicy
                d.kernelChoices = m.kernelChoices
            }
        }
    }

    /// Folds the batch statistics of the last training pass into every batch norm's running
    /// statistics, pooled with the same layers of the `replicas` that ran parts of the batch.
    public func commitBatchStatistics(replicas: [Sequential] = []) {
        for (i, layer) in leafLayers.enumerated() {
            guard let bn = layer as? BatchNorm else { continue }
            bn.commitStatistics(pooledWith: replicas.compactMap { $0.leafLayers[i] as? BatchNorm })
        }
    }

    /// Seeds every dropout layer from `rng` (`rng ▶ layer name`), so dropout masks follow the
    /// config's seed.
    public func seedDropout(_ rng: RandomSource) {
        for case let d as Dropout in leafLayers {
            var r = rng.derived(d.name)
            d.seed = r.next()
        }
    }

    /// The layers holding state besides their parameters (batch norm's running statistics,
    /// dropout's stream position), for checkpoints.
    public var statefulLayers: [any Layer & Checkpointable] { leafLayers.compactMap { $0 as? any Layer & Checkpointable } }

    /// The measured kernel choices of the model (its first sparse-capable layer's; `Sequential`
    /// gives all of them one cache when it is built).
    public var kernelChoices: KernelChoices? { leafLayers.lazy.compactMap { $0 as? SparseCapableLayer }.first?.kernelChoices }

    /// Sets the kernel policy of every sparse-capable layer (dense and conv; see `KernelPolicy`).
    public var kernelPolicy: KernelPolicy {
        get { leafLayers.lazy.compactMap { $0 as? SparseCapableLayer }.first?.kernelPolicy ?? .auto }
        set { for case let d as SparseCapableLayer in leafLayers { d.kernelPolicy = newValue } }
    }

    /// Drops the shared buffers so that the master's next in-place update does not copy them.
    public func releaseWeights() {
        for p in parameters { p.value = Tensor(shape: [0]) }
    }

    public var outputShape: [Int] { layers.last!.outputShape(for: layerInputShapes.last!) }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var prunableParameters: [Parameter] { parameters.filter(\.isPrunable) }

    public func parameter(named name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }

    /// Logits for a batch `[B, inputShape...]`.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        run(.rowMajor(x), from: 0, plan: layoutPlan(batch: x.rows, training: training), training: training)
    }

    /// `forward` on a batch given by its rows in a set (`RowGather`): when the first trainable
    /// layer is a `Dense` on its sparse path (only `Flatten`s, which reshape, before it), it
    /// gathers the rows itself and the batch is never copied; otherwise the batch is copied and
    /// run through `forward`. Same results either way.
    public func forward(gathering batch: RowGather, training: Bool) -> Tensor {
        let plan = layoutPlan(batch: batch.count, training: training)
        if let d = layers[firstTrainable...].first as? Dense, let pattern = plan.patterns[firstTrainable],
            layers[..<firstTrainable].allSatisfy({ $0 is Flatten })
        {
            // the skipped Flattens are never asked for a gradient: backward stops at the first
            // trainable layer
            let h = d.forward(gathering: batch, pattern: pattern, transposedOutput: plan.transposedOutput[firstTrainable])
            return run(h, from: firstTrainable + 1, plan: plan, training: training)
        }
        return run(.rowMajor(batch.materialize()), from: 0, plan: plan, training: training)
    }

    /// Per layer: the pattern a `Dense` runs its sparse kernels on for this batch (nil: dense
    /// path, or not a `Dense`), and whether its output goes on transposed. It does when the
    /// next layer after element-wise activations is a `Dense` on its sparse path too (see
    /// `keepsSparseActivationsTransposed`); the logits, and the input of the first dense layer
    /// of a chain, stay rows.
    private func layoutPlan(batch: Int, training: Bool) -> (patterns: [SparsityPattern?], transposedOutput: [Bool]) {
        let patterns = layers.map { ($0 as? Dense)?.kernelPattern(batch: batch, training: training) }
        var transposed = [Bool](repeating: false, count: layers.count)
        guard keepsSparseActivationsTransposed else { return (patterns, transposed) }
        for i in layers.indices where patterns[i] != nil {
            guard let next = layers[(i + 1)...].firstIndex(where: { !($0 is Activation) }) else { continue }
            transposed[i] = patterns[next] != nil
        }
        return (patterns, transposed)
    }

    /// Runs the layers from `start` on, each `Dense` on the product and layout of `plan`; an
    /// activation keeps the layout it is given.
    private func run(
        _ x: LayerValues, from start: Int, plan: (patterns: [SparsityPattern?], transposedOutput: [Bool]), training: Bool
    ) -> Tensor {
        var h = x
        for i in start..<layers.count {
            if let d = layers[i] as? Dense {
                h = d.forward(h, pattern: plan.patterns[i], transposedOutput: plan.transposedOutput[i])
            } else if case .transposed(let t) = h, let a = layers[i] as? Activation {
                h = .transposed(a.forward(transposed: t, training: training))
            } else {
                h = .rowMajor(layers[i].forward(h.rowMajor, training: training))
            }
        }
        return h.rowMajor
    }

    /// Backpropagates dL/dlogits through every layer, filling parameter gradients. Each layer
    /// gets its output gradient in the layout its latest forward gave its output.
    public func backward(_ dLogits: Tensor) {
        var g = LayerValues.rowMajor(dLogits)
        for (i, layer) in layers.enumerated().reversed() {
            let needInputGrad = i > firstTrainable
            let next: LayerValues?
            if let d = layer as? Dense {
                next = d.backward(g, needInputGrad: needInputGrad)
            } else if case .transposed(let t) = g, let a = layer as? Activation {
                next = a.backward(transposed: t, needInputGrad: needInputGrad).map(LayerValues.transposed)
            } else {
                next = layer.backward(g.rowMajor, needInputGrad: needInputGrad).map(LayerValues.rowMajor)
            }
            guard let next else { break }
            g = next
        }
    }

    /// Per-sample FLOPs of one forward pass (dense, or on unmasked weights only).
    public func forwardFLOPs(activeOnly: Bool) -> Int {
        zip(layers, layerInputShapes).reduce(0) { $0 + $1.0.forwardFLOPs(inputShape: $1.1, activeOnly: activeOnly) }
    }

    /// Per-sample FLOPs of one training step's forward, loss and backward passes.
    public func trainingFLOPs(activeOnly: Bool) -> Int {
        var total = forwardFLOPs(activeOnly: activeOnly) + loss.flops(outputs: outputShape.reduce(1, *))
        for (i, (layer, shape)) in zip(layers, layerInputShapes).enumerated() {
            total += layer.backwardFLOPs(inputShape: shape, needInputGrad: i > firstTrainable, activeOnly: activeOnly)
        }
        return total
    }

    /// Total and unmasked weight counts over prunable parameters.
    public var weightCounts: (total: Int, nonzero: Int) {
        prunableParameters.reduce((0, 0)) { ($0.0 + $1.value.count, $0.1 + $1.value.nonzeroCount) }
    }
}

import TensorCore

/// A trainable tensor with its gradient and, once pruned, its mask.
///
/// Names follow `layer.kind` (`fc1.weight`, `fc1.bias`); masks share the name. `mask` holds
/// 1 for a kept and 0 for a pruned entry, in `value`'s layout; `nil` means dense. Whoever sets
/// a mask also zeroes the pruned entries of `value` (see `applyMask()`), and the optimizer
/// re-applies it after every step, so a pruned entry stays exactly 0.
public final class Parameter {
    public let name: String
    public var value: Tensor
    /// The gradient in `value`'s layout. While a compact gradient is current (see
    /// `compactGradient`), reading it first scatters the compact entries in (once per new
    /// compact gradient), and mutating it makes the dense tensor the gradient again.
    public var grad: Tensor {
        get {
            synchronizeGradient()
            return storedGrad
        }
        set {
            storedGrad = newValue
            compactPattern = nil
        }
        _modify {
            synchronizeGradient()
            compactPattern = nil
            yield &storedGrad
        }
    }
    private var storedGrad: Tensor
    /// The weight gradient at the entries of `compactPattern` only, in its CSR order (entry k
    /// at flat index `csrFlat[k]`), when a sparse backward wrote it so; nil pattern when the
    /// dense `grad` is the gradient. A sparse layer's gradient, its data-parallel sum and the
    /// optimizer's live update then stay in `nonzeros` contiguous floats (at 8% density a
    /// 784x300 layer's are 76 KB instead of 940 KB scattered over a dense tensor that does not
    /// fit L2 next to the weights and momentum: the sum and the update were 16% of a sparse
    /// epoch, bound by memory traffic).
    public private(set) var compactPattern: SparsityPattern?
    public private(set) var compactGradient: [Float] = []
    /// Whether `storedGrad` holds the compact entries too (set when they were scattered in).
    private var denseInSync = false
    /// Weights are prunable (chosen by unstructured pruning and counted in sparsity); biases
    /// are not, though structured pruning masks the bias of a removed filter or neuron too.
    public let isPrunable: Bool
    /// The value a non-prunable parameter starts from (0 for biases and batch norm's shift,
    /// 1 for its scale); initializers fill it in.
    public let initialValue: Float
    public private(set) var mask: Tensor?
    /// Entries the mask keeps (all entries when dense); FLOP counts use it.
    public private(set) var activeCount: Int
    /// The mask's CSR/CSC structure, built on first use after each mask change; on a replica,
    /// the master's (set by `sharePattern(from:)`, as the replica itself carries no mask).
    private var pattern: SparsityPattern?
    /// Set by the layer's latest backward: the pattern outside which `grad` is exactly 0 (a
    /// sparse backward writes only the pattern's entries, its layer zeroed the rest), nil after
    /// a dense backward. The data-parallel reduction then sums the pattern's entries only.
    public var gradientPattern: SparsityPattern?

    public init(name: String, value: Tensor, isPrunable: Bool, initialValue: Float = 0) {
        self.name = name
        self.value = value
        self.storedGrad = Tensor(shape: value.shape)
        self.isPrunable = isPrunable
        self.initialValue = initialValue
        self.activeCount = value.count
    }

    /// Makes the gradient a compact one over `pattern` and calls `body` to write all of its
    /// `nonzeros` entries; `grad` must already be exactly 0 outside the pattern (see
    /// `gradientPattern`).
    public func writeCompactGradient<R>(_ pattern: SparsityPattern, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if compactGradient.count != pattern.nonzeros {
            compactGradient = [Float](repeating: 0, count: pattern.nonzeros)
        }
        compactPattern = pattern
        denseInSync = false
        return try compactGradient.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Calls `body` with the compact gradient's buffer to change it in place (the data-parallel
    /// sum); the dense `grad` is brought up to date on its next read.
    public func updateCompactGradient<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(compactPattern != nil, "\(name): no compact gradient to update")
        denseInSync = false
        return try compactGradient.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Zeroes the dense gradient without reading a compact one first.
    public func zeroGradient() {
        compactPattern = nil
        storedGrad.fill(0)
    }

    /// Scatters a current compact gradient into `storedGrad` (once per new compact gradient).
    private func synchronizeGradient() {
        guard let pattern = compactPattern, !denseInSync else { return }
        denseInSync = true
        pattern.csrFlat.withUnsafeBufferPointer { idx in
            compactGradient.withUnsafeBufferPointer { c in
                storedGrad.scalars.withUnsafeMutableBufferPointer { g in
                    for k in 0..<idx.count { g[Int(idx[k])] = c[k] }
                }
            }
        }
    }

    /// Live entries held at a fixed value: no gradient, no optimizer state, no update (the
    /// optimizer writes `frozenValues` back after every step). Flat indices, ascending; empty
    /// when nothing is frozen. Pruning a frozen entry unfreezes it.
    public private(set) var frozenIndices: [Int32] = []
    public private(set) var frozenValues: [Float] = []
    /// The pattern of the live entries that still train (the mask without the frozen entries),
    /// built on first use after a change; nil when nothing is frozen.
    private var trainable: SparsityPattern?

    /// Live weights that still train: `activeCount` less the frozen ones (FLOP counts of the
    /// weight gradient use it).
    public var trainableCount: Int { activeCount - frozenIndices.count }

    /// Sets `indices` (flat, live) to `values` and freezes them there, besides those already
    /// frozen (a repeated index takes the new value).
    public func freeze(_ indices: [Int], at values: [Float]) {
        precondition(indices.count == values.count, "\(name): \(indices.count) frozen indices for \(values.count) values")
        guard !indices.isEmpty else { return }
        var table = Dictionary(uniqueKeysWithValues: zip(frozenIndices.map(Int.init), frozenValues))
        for (j, v) in zip(indices, values) {
            precondition(j >= 0 && j < value.count, "\(name): frozen index \(j) out of 0..<\(value.count)")
            precondition(mask.map { $0.scalars[j] != 0 } ?? true, "\(name): cannot freeze the pruned entry \(j)")
            table[j] = v
            value.scalars[j] = v
        }
        let sorted = table.keys.sorted()
        frozenIndices = sorted.map { Int32($0) }
        frozenValues = sorted.map { table[$0]! }
        trainable = nil
    }

    /// Unfreezes every entry.
    public func unfreeze() {
        frozenIndices = []
        frozenValues = []
        trainable = nil
    }

    /// Writes the frozen values back into `value` (after an optimizer step touched them).
    public func restoreFrozen() {
        guard !frozenIndices.isEmpty else { return }
        frozenIndices.withUnsafeBufferPointer { idx in
            frozenValues.withUnsafeBufferPointer { fv in
                value.scalars.withUnsafeMutableBufferPointer { w in
                    for k in 0..<idx.count { w[Int(idx[k])] = fv[k] }
                }
            }
        }
    }

    /// The live entries that train, as a sparsity pattern over `[shape[0], rest]`: the mask's
    /// pattern without the frozen entries; nil when nothing is frozen or the rank is 1.
    public var trainablePattern: SparsityPattern? {
        if let trainable { return trainable }
        guard !frozenIndices.isEmpty, value.rank >= 2 else { return nil }
        var m = mask ?? Tensor(shape: value.shape, repeating: 1)
        for j in frozenIndices { m.scalars[Int(j)] = 0 }
        let p = SparsityPattern.of(m)
        trainable = p
        return p
    }

    /// Installs `mask` (same shape as `value`, entries 0 or 1) and zeroes the pruned weights.
    public func setMask(_ mask: Tensor?) {
        if let mask {
            precondition(mask.shape == value.shape, "mask for \(name) has shape \(mask.shape), weight has \(value.shape)")
            self.mask = mask
            activeCount = mask.nonzeroCount
            applyMask()
        } else {
            self.mask = nil
            activeCount = value.count
        }
        pattern = nil
        if !frozenIndices.isEmpty, let mask {
            // a pruned entry is no longer frozen
            let keep = frozenIndices.indices.filter { mask.scalars[Int(frozenIndices[$0])] != 0 }
            if keep.count != frozenIndices.count {
                frozenIndices = keep.map { frozenIndices[$0] }
                frozenValues = keep.map { frozenValues[$0] }
            }
        }
        trainable = nil
    }

    /// The sparse structure of the mask, as `[shape[0], rest]` (nil when dense or rank 1). Built in O(weights) on
    /// the first call after `setMask`; call it on the master before worker threads start.
    public var sparsityPattern: SparsityPattern? {
        if let pattern { return pattern }
        guard let mask, mask.rank >= 2 else { return nil }
        let p = SparsityPattern.of(mask)
        pattern = p
        return p
    }

    /// Makes this replica parameter use `master`'s sparse structure (O(1), immutable, shared).
    public func sharePattern(from master: Parameter) {
        pattern = master.sparsityPattern
        trainable = master.trainablePattern
    }

    /// Multiplies `value` by the mask in place (no-op when dense).
    public func applyMask() {
        guard let mask else { return }
        Parameter.multiply(&value, by: mask)
    }

    /// `t *= mask` element-wise on raw buffers.
    public static func multiply(_ t: inout Tensor, by mask: Tensor) {
        precondition(t.count == mask.count)
        mask.scalars.withUnsafeBufferPointer { m in
            t.scalars.withUnsafeMutableBufferPointer { v in
                for i in 0..<v.count { v[i] *= m[i] }
            }
        }
    }
}

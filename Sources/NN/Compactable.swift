import TensorCore

/// A weighted layer that can be rebuilt smaller: keeping some of its output units (rows of
/// the weight, entries of the bias) and some of its inputs. Structured compaction works on
/// any layer that conforms; a weighted layer that does not is reported, never guessed at.
public protocol Compactable: Layer {
    /// Output units (conv filters, dense neurons).
    var outputUnits: Int { get }
    var weight: Parameter { get }
    var bias: Parameter { get }
    /// The layer with `outputs` of its units and `inputs` of its input units (conv input
    /// channels, dense input features), values and masks copied.
    func compacted(outputs: [Int], inputs: [Int]) -> Layer
    /// How many input units the layer reads for a per-sample input shape (conv: channels;
    /// dense: features).
    func inputUnits(inputShape: [Int]) -> Int
    /// The flat indices of the weight entries `compacted(outputs:inputs:)` keeps, in its order.
    func keptWeightIndices(outputs: [Int], inputs: [Int]) -> [Int]
}

extension Conv2D: Compactable {
    public var outputUnits: Int { outChannels }

    public func inputUnits(inputShape: [Int]) -> Int { inChannels }

    public func compacted(outputs: [Int], inputs: [Int]) -> Layer {
        let c = Conv2D(
            name: name, inChannels: inputs.count, outChannels: outputs.count,
            kernel: kernel, stride: stride, padding: padding)
        Parameter.copy(weight, at: keptWeightIndices(outputs: outputs, inputs: inputs), into: c.weight)
        Parameter.copy(bias, at: outputs, into: c.bias)
        return c
    }

    /// Filter `o`, input channel `ch`, tap `t` sits at `(o * inChannels + ch) * k² + t`.
    public func keptWeightIndices(outputs: [Int], inputs: [Int]) -> [Int] {
        let kk = kernel * kernel
        var idx: [Int] = []
        idx.reserveCapacity(outputs.count * inputs.count * kk)
        for o in outputs { for ch in inputs { for t in 0..<kk { idx.append((o * inChannels + ch) * kk + t) } } }
        return idx
    }
}

extension Dense: Compactable {
    public var outputUnits: Int { outputSize }

    public func inputUnits(inputShape: [Int]) -> Int { inputSize }

    public func compacted(outputs: [Int], inputs: [Int]) -> Layer {
        let d = Dense(name: name, inputSize: inputs.count, outputSize: outputs.count)
        Parameter.copy(weight, at: keptWeightIndices(outputs: outputs, inputs: inputs), into: d.weight)
        Parameter.copy(bias, at: outputs, into: d.bias)
        return d
    }

    /// Neuron `o`, input `i` sits at `o * inputSize + i`.
    public func keptWeightIndices(outputs: [Int], inputs: [Int]) -> [Int] {
        outputs.flatMap { o in inputs.map { o * inputSize + $0 } }
    }
}

extension Parameter {
    /// Copies the entries at `indices` of `source` (value, and mask when present) into
    /// `target`, in order.
    public static func copy(_ source: Parameter, at indices: [Int], into target: Parameter) {
        precondition(indices.count == target.value.count, "\(source.name): \(indices.count) entries for a target of \(target.value.count)")
        let values = source.value.scalars
        target.value = Tensor(shape: target.value.shape, scalars: indices.map { values[$0] })
        if let mask = source.mask {
            let m = indices.map { mask.scalars[$0] }
            target.setMask(m.allSatisfy { $0 != 0 } ? nil : Tensor(shape: target.value.shape, scalars: m))
        }
    }
}

import TensorCore
import NN

/// Masks by parameter name (`fc1.weight`), validated against a model's names and shapes.
///
/// A mask holds 1 for a kept and 0 for a pruned entry, in the parameter's layout.
public struct MaskSet: Equatable, Sendable {
    public private(set) var masks: [String: Tensor]

    public init() { masks = [:] }

    public init(_ masks: [String: Tensor]) { self.masks = masks }

    /// The masks currently installed on `model` (dense parameters get an all-ones mask).
    public init(of model: Sequential, parameters names: [String]) {
        masks = [:]
        for p in model.prunableParameters where names.contains(p.name) {
            masks[p.name] = p.keptMask
        }
    }

    public subscript(name: String) -> Tensor? {
        get { masks[name] }
        set { masks[name] = newValue }
    }

    /// Throws unless every mask names a prunable parameter of `model` with the same shape.
    public func validate(against model: Sequential) throws {
        for (name, m) in masks {
            guard let p = model.parameter(named: name) else {
                throw PruningError("mask '\(name)' names no parameter; parameters: \(model.parameters.map(\.name).joined(separator: ", "))")
            }
            guard p.isPrunable else { throw PruningError("mask '\(name)': \(name) is not prunable (biases never are)") }
            guard m.shape == p.value.shape else {
                throw PruningError("mask '\(name)' has shape \(m.shape), the parameter has \(p.value.shape)")
            }
            guard m.scalars.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw PruningError("mask '\(name)' holds values other than 0 and 1")
            }
        }
    }

    /// Installs every mask on `model` (zeroing pruned weights).
    public func install(on model: Sequential) throws {
        try validate(against: model)
        for (name, m) in masks { model.parameter(named: name)!.setMask(m) }
    }

    /// Kept entries over all masks.
    public var keptCount: Int { masks.values.reduce(0) { $0 + $1.nonzeroCount } }
    public var totalCount: Int { masks.values.reduce(0) { $0 + $1.count } }
}

/// A pruning request that cannot be carried out; one line naming the mask or layer.
public struct PruningError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}

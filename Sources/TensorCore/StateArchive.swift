/// Named arrays: the state a run needs to continue where it stopped. Every type that holds
/// training state (model, optimizers, batcher, criteria, observers, methods) writes its part
/// under its own prefix and reads it back bit for bit; Experiments persists the archive as one
/// HDF5 file. Integers and RNG states are stored as `Int64` (bit patterns for `UInt64`),
/// floating point as `Float` or `Double` arrays, so nothing is rounded.
public final class StateArchive {
    public private(set) var floats: [String: [Float]] = [:]
    public private(set) var doubles: [String: [Double]] = [:]
    public private(set) var ints: [String: [Int64]] = [:]

    public init() {}

    public init(floats: [String: [Float]], doubles: [String: [Double]], ints: [String: [Int64]]) {
        self.floats = floats
        self.doubles = doubles
        self.ints = ints
    }

    public func set(_ key: String, _ v: [Float]) { floats[key] = v }
    public func set(_ key: String, _ v: [Double]) { doubles[key] = v }
    public func set(_ key: String, _ v: [Int64]) { ints[key] = v }
    public func set(_ key: String, _ v: Int) { ints[key] = [Int64(v)] }
    public func set(_ key: String, _ v: Double) { doubles[key] = [v] }
    public func set(_ key: String, text: String) { ints[key] = text.utf8.map { Int64($0) } }
    public func set(_ key: String, _ rng: RandomSource) { ints[key] = rng.state.map { Int64(bitPattern: $0) } }

    public func floats(_ key: String) throws -> [Float] {
        guard let v = floats[key] else { throw StateArchiveError.missing(key) }
        return v
    }

    public func doubles(_ key: String) throws -> [Double] {
        guard let v = doubles[key] else { throw StateArchiveError.missing(key) }
        return v
    }

    public func ints(_ key: String) throws -> [Int64] {
        guard let v = ints[key] else { throw StateArchiveError.missing(key) }
        return v
    }

    public func int(_ key: String) throws -> Int {
        let v = try ints(key)
        guard v.count == 1 else { throw StateArchiveError.shape(key) }
        return Int(v[0])
    }

    public func double(_ key: String) throws -> Double {
        let v = try doubles(key)
        guard v.count == 1 else { throw StateArchiveError.shape(key) }
        return v[0]
    }

    public func text(_ key: String) throws -> String {
        String(decoding: try ints(key).map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }

    public func rng(_ key: String) throws -> RandomSource {
        let v = try ints(key)
        guard v.count == 4 else { throw StateArchiveError.shape(key) }
        return RandomSource(state: v.map { UInt64(bitPattern: $0) })
    }

    public func has(_ key: String) -> Bool { floats[key] != nil || doubles[key] != nil || ints[key] != nil }

    /// A tensor's values, checked against the shape it must have.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let v = try floats(key)
        guard v.count == shape.reduce(1, *) else { throw StateArchiveError.shape(key) }
        return Tensor(shape: shape, scalars: v)
    }
}

public enum StateArchiveError: Error, CustomStringConvertible {
    case missing(String)
    case shape(String)

    public var description: String {
        switch self {
        case .missing(let k): return "checkpoint has no \(k)"
        case .shape(let k): return "checkpoint's \(k) has the wrong size"
        }
    }
}

/// A holder of training state that a checkpoint saves and a resumed run restores exactly.
public protocol Checkpointable: AnyObject {
    func save(into archive: StateArchive, prefix: String)
    func restore(from archive: StateArchive, prefix: String) throws
}

import Foundation
import Schema

/// One layer of a model written out in the config.
///
/// - `dense`: `units`, `activation` (default `none`).
/// - `conv`: `filters`, `kernel` (square), `stride` (default 1), `padding` (zeros on every
///   side, default 0), `activation` (default `none`).
/// - `pool`: max pooling over `kernel` x `kernel` windows, `stride` (default `kernel`).
/// - `flatten`: no keys; inserted by itself before the first dense layer after a conv or pool.
public enum LayerSpec: Codable, Equatable, Sendable {
    case dense(units: Int, activation: ActivationName)
    case conv(filters: Int, kernel: Int, stride: Int, padding: Int, activation: ActivationName)
    case pool(kernel: Int, stride: Int)
    case flatten

    public enum Kind: String, Codable, Sendable, CaseIterable { case dense, conv, pool, flatten }
    public enum ActivationName: String, Codable, Sendable, CaseIterable { case relu, sigmoid, tanh, none, softmax }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, units, filters, kernel, stride, padding, activation }

    /// The keys each kind accepts besides `type`, with their help (for the docs).
    static let keys: [Kind: [(key: CodingKeys, help: String)]] = [
        .dense: [(.units, "output units"), (.activation, "relu, sigmoid, tanh, none; softmax or sigmoid on the last layer")],
        .conv: [
            (.filters, "output channels"), (.kernel, "square kernel size"), (.stride, "default 1"),
            (.padding, "zeros on every side, default 0"), (.activation, "relu, sigmoid, tanh, none"),
        ],
        .pool: [(.kernel, "max-pooling window"), (.stride, "default: the kernel")],
        .flatten: [],
    ]

    public static func pool(kernel: Int) -> LayerSpec { .pool(kernel: kernel, stride: kernel) }

    public var kind: Kind {
        switch self {
        case .dense: return .dense
        case .conv: return .conv
        case .pool: return .pool
        case .flatten: return .flatten
        }
    }

    public var activation: ActivationName {
        switch self {
        case .dense(_, let a), .conv(_, _, _, _, let a): return a
        case .pool, .flatten: return .none
        }
    }

    /// Output units of a weighted layer (conv filters, dense units); nil otherwise.
    public var units: Int? {
        switch self {
        case .dense(let u, _): return u
        case .conv(let f, _, _, _, _): return f
        case .pool, .flatten: return nil
        }
    }

    /// The same layer with `units` output units (for compacted models).
    public func withUnits(_ n: Int) -> LayerSpec {
        switch self {
        case .dense(_, let a): return .dense(units: n, activation: a)
        case .conv(_, let k, let s, let p, let a): return .conv(filters: n, kernel: k, stride: s, padding: p, activation: a)
        case .pool, .flatten: return self
        }
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.value(.type, default: Kind.dense)
        let allowed = Set(LayerSpec.keys[kind, default: []].map(\.key))
        for key in c.allKeys where key != .type && !allowed.contains(key) {
            throw ConfigError(path: jsonPath(c.codingPath + [key]), "not a key of a \"\(kind.rawValue)\" layer")
        }
        switch kind {
        case .dense:
            self = .dense(
                units: try c.required(.units) as Int,
                activation: try c.value(.activation, default: .none))
        case .conv:
            self = .conv(
                filters: try c.required(.filters) as Int, kernel: try c.required(.kernel) as Int,
                stride: try c.value(.stride, default: 1), padding: try c.value(.padding, default: 0),
                activation: try c.value(.activation, default: .none))
        case .pool:
            let k = try c.required(.kernel) as Int
            self = .pool(kernel: k, stride: try c.value(.stride, default: k))
        case .flatten:
            self = .flatten
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .type)
        switch self {
        case .dense(let units, let activation):
            try c.encode(units, forKey: .units)
            try c.encode(activation, forKey: .activation)
        case .conv(let filters, let kernel, let stride, let padding, let activation):
            try c.encode(filters, forKey: .filters)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(stride, forKey: .stride)
            try c.encode(padding, forKey: .padding)
            try c.encode(activation, forKey: .activation)
        case .pool(let kernel, let stride):
            try c.encode(kernel, forKey: .kernel)
            try c.encode(stride, forKey: .stride)
        case .flatten:
            break
        }
    }

    /// Checks the numbers of layer `i` (shapes are checked against the data when the model is built).
    func validate(index i: Int, isLast: Bool) throws {
        let at = "model.layers[\(i)]"
        func positive(_ v: Int, _ key: String) throws {
            if v <= 0 { throw ConfigError(path: "\(at).\(key)", "must be > 0, got \(v)") }
        }
        switch self {
        case .dense(let units, _):
            try positive(units, "units")
        case .conv(let filters, let kernel, let stride, let padding, _):
            try positive(filters, "filters")
            try positive(kernel, "kernel")
            try positive(stride, "stride")
            if padding < 0 { throw ConfigError(path: "\(at).padding", "must be >= 0, got \(padding)") }
        case .pool(let kernel, let stride):
            try positive(kernel, "kernel")
            try positive(stride, "stride")
        case .flatten:
            break
        }
        if !isLast && activation == .softmax {
            throw ConfigError(path: "\(at).activation", "softmax is only allowed on the last layer")
        }
    }
}

import Foundation
import NN
import Schema

/// One layer of a model written out in the config.
///
/// - `dense`: `units`, `activation` (default `none`).
/// - `conv`: `filters`, `kernel` (square), `stride` (default 1), `padding` (zeros on every
///   side, default 0), `activation` (default `none`).
/// - `pool`: max pooling over `kernel` x `kernel` windows, `stride` (default `kernel`).
/// - `flatten`: no keys; inserted by itself before the first dense layer after a conv or pool.
/// - `batchnorm`: per channel (or feature), `momentum` (default 0.1), `epsilon` (1e-5),
///   `activation` after it (default `none`). Right after a conv or dense layer without an
///   activation it folds into that layer for compaction.
/// - `dropout`: `rate` (default 0.5); the identity at evaluation.
/// - `global_avg_pool`: no keys; `[C, H, W]` to `[C]`.
/// - `residual`: `layers` (a list of these specs), `y = x + layers(x)`.
/// - `concat`: `layers`, `y = [x, layers(x)]` along the channels.
/// - `dense_block`: DenseNet-BC layers (Huang et al. 2017), `count` (default 4) concat blocks
///   of batchnorm+ReLU, conv 1x1 of `bottleneck` x `growth_rate` filters (default 4; 0: no
///   bottleneck conv), batchnorm+ReLU, conv 3x3 (padding 1) of `growth_rate` filters.
public indirect enum LayerSpec: Codable, Equatable, Sendable {
    case dense(units: Int, activation: ActivationName)
    case conv(filters: Int, kernel: Int, stride: Int, padding: Int, activation: ActivationName)
    case pool(kernel: Int, stride: Int)
    case flatten
    case batchnorm(momentum: Double, epsilon: Double, activation: ActivationName)
    case dropout(rate: Double)
    case globalAvgPool
    case residual(layers: [LayerSpec])
    case concat(layers: [LayerSpec])
    case denseBlock(growthRate: Int, count: Int, bottleneck: Int)

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case dense, conv, pool, flatten, batchnorm, dropout
        case globalAvgPool = "global_avg_pool", residual, concat, denseBlock = "dense_block"
    }
    /// What follows a weighted layer: an element-wise activation (`ActivationKind`, named by
    /// its `rawValue`), nothing (`none`), or on the last layer the loss's head (`softmax`, or
    /// `sigmoid` with one unit).
    public enum ActivationName: Hashable, Sendable, Codable, CaseIterable, RawRepresentable {
        case elementwise(ActivationKind)
        case none, softmax

        public static let relu = ActivationName.elementwise(.relu)
        public static let sigmoid = ActivationName.elementwise(.sigmoid)
        public static let tanh = ActivationName.elementwise(.tanh)

        public static var allCases: [ActivationName] { ActivationKind.allCases.map(elementwise) + [.none, .softmax] }

        public init?(rawValue: String) {
            switch rawValue {
            case "none": self = .none
            case "softmax": self = .softmax
            default:
                guard let kind = ActivationKind(rawValue: rawValue) else { return nil }
                self = .elementwise(kind)
            }
        }

        public var rawValue: String {
            switch self {
            case .elementwise(let kind): return kind.rawValue
            case .none: return "none"
            case .softmax: return "softmax"
            }
        }

        public init(from decoder: Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let value = ActivationName(rawValue: text) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: decoder.codingPath,
                        debugDescription: "one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\""))
            }
            self = value
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }

        /// The element-wise activations with their formulas, for the docs.
        static var elementwiseHelp: String {
            ActivationKind.allCases.map { "\($0.rawValue) = \($0.help)" }.joined(separator: ", ")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, units, filters, kernel, stride, padding, activation, momentum, epsilon, rate, layers
        case growthRate = "growth_rate", count, bottleneck
    }

    /// The keys each kind accepts besides `type`, with their help (for the docs).
    static let keys: [Kind: [(key: CodingKeys, help: String)]] = [
        .dense: [
            (.units, "output units"),
            (.activation, "\(ActivationName.elementwiseHelp), none; softmax or sigmoid on the last layer"),
        ],
        .conv: [
            (.filters, "output channels"), (.kernel, "square kernel size"), (.stride, "default 1"),
            (.padding, "zeros on every side, default 0"), (.activation, "\(ActivationName.elementwiseHelp), none"),
        ],
        .pool: [(.kernel, "max-pooling window"), (.stride, "default: the kernel")],
        .flatten: [],
        .batchnorm: [
            (.momentum, "weight of the batch in the running statistics, default 0.1"), (.epsilon, "default 1e-5"),
            (.activation, "after the normalization, default none; folds into a conv or dense layer right before it"),
        ],
        .dropout: [(.rate, "fraction of entries zeroed in training, default 0.5; identity at evaluation")],
        .globalAvgPool: [],
        .residual: [(.layers, "the body, a list of layers: y = x + body(x)")],
        .concat: [(.layers, "the body, a list of layers: y = [x, body(x)] along the channels")],
        .denseBlock: [
            (.growthRate, "filters each layer adds"), (.count, "layers (concat blocks), default 4"),
            (.bottleneck, "1x1 conv of bottleneck x growth_rate filters first, default 4; 0: none"),
        ],
    ]

    public static func pool(kernel: Int) -> LayerSpec { .pool(kernel: kernel, stride: kernel) }

    public var kind: Kind {
        switch self {
        case .dense: return .dense
        case .conv: return .conv
        case .pool: return .pool
        case .flatten: return .flatten
        case .batchnorm: return .batchnorm
        case .dropout: return .dropout
        case .globalAvgPool: return .globalAvgPool
        case .residual: return .residual
        case .concat: return .concat
        case .denseBlock: return .denseBlock
        }
    }

    public var activation: ActivationName {
        switch self {
        case .dense(_, let a), .conv(_, _, _, _, let a), .batchnorm(_, _, let a): return a
        default: return .none
        }
    }

    /// Output units of a weighted layer (conv filters, dense units); nil otherwise.
    public var units: Int? {
        switch self {
        case .dense(let u, _): return u
        case .conv(let f, _, _, _, _): return f
        default: return nil
        }
    }

    /// The same layer with `units` output units (for compacted models).
    public func withUnits(_ n: Int) -> LayerSpec {
        switch self {
        case .dense(_, let a): return .dense(units: n, activation: a)
        case .conv(_, let k, let s, let p, let a): return .conv(filters: n, kernel: k, stride: s, padding: p, activation: a)
        default: return self
        }
    }

    /// The same weighted layer with another activation.
    public func withActivation(_ a: ActivationName) -> LayerSpec {
        switch self {
        case .dense(let u, _): return .dense(units: u, activation: a)
        case .conv(let f, let k, let s, let p, _): return .conv(filters: f, kernel: k, stride: s, padding: p, activation: a)
        case .batchnorm(let m, let e, _): return .batchnorm(momentum: m, epsilon: e, activation: a)
        default: return self
        }
    }

    /// The specs a `dense_block` stands for (other specs: themselves).
    public var expanded: [LayerSpec] {
        guard case .denseBlock(let growth, let count, let bottleneck) = self else { return [self] }
        let bnRelu = LayerSpec.batchnorm(momentum: 0.1, epsilon: 1e-5, activation: .relu)
        let wide: [LayerSpec] =
            bottleneck > 0
            ? [bnRelu, .conv(filters: bottleneck * growth, kernel: 1, stride: 1, padding: 0, activation: .none)] : []
        let body = wide + [bnRelu, .conv(filters: growth, kernel: 3, stride: 1, padding: 1, activation: .none)]
        return Array(repeating: .concat(layers: body), count: count)
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
            self = .dense(units: try c.required(.units) as Int, activation: try c.value(.activation, default: .none))
        case .conv:
            self = .conv(
                filters: try c.required(.filters) as Int, kernel: try c.required(.kernel) as Int,
                stride: try c.value(.stride, default: 1), padding: try c.value(.padding, default: 0),
                activation: try c.value(.activation, default: .none))
        case .pool:
            let k = try c.required(.kernel) as Int
            self = .pool(kernel: k, stride: try c.value(.stride, default: k))
        case .flatten: self = .flatten
        case .batchnorm:
            self = .batchnorm(
                momentum: try c.value(.momentum, default: 0.1), epsilon: try c.value(.epsilon, default: 1e-5),
                activation: try c.value(.activation, default: .none))
        case .dropout: self = .dropout(rate: try c.value(.rate, default: 0.5))
        case .globalAvgPool: self = .globalAvgPool
        case .residual: self = .residual(layers: try c.required(.layers))
        case .concat: self = .concat(layers: try c.required(.layers))
        case .denseBlock:
            self = .denseBlock(
                growthRate: try c.required(.growthRate) as Int, count: try c.value(.count, default: 4),
                bottleneck: try c.value(.bottleneck, default: 4))
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
        case .flatten, .globalAvgPool:
            break
        case .batchnorm(let momentum, let epsilon, let activation):
            try c.encode(momentum, forKey: .momentum)
            try c.encode(epsilon, forKey: .epsilon)
            try c.encode(activation, forKey: .activation)
        case .dropout(let rate):
            try c.encode(rate, forKey: .rate)
        case .residual(let layers), .concat(let layers):
            try c.encode(layers, forKey: .layers)
        case .denseBlock(let growth, let count, let bottleneck):
            try c.encode(growth, forKey: .growthRate)
            try c.encode(count, forKey: .count)
            try c.encode(bottleneck, forKey: .bottleneck)
        }
    }

    /// Checks the numbers of the layer at `at` (`model.layers[i]`; shapes are checked against
    /// the data when the model is built).
    func validate(at: String, isLast: Bool) throws {
        func positive(_ v: Int, _ key: String) throws {
            if v <= 0 { throw ConfigError(path: "\(at).\(key)", "must be > 0, got \(v)") }
        }
        func within(_ v: Double, _ key: String, _ ok: Bool, _ range: String) throws {
            if !ok { throw ConfigError(path: "\(at).\(key)", "must be in \(range), got \(v)") }
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
        case .flatten, .globalAvgPool:
            break
        case .batchnorm(let momentum, let epsilon, _):
            try within(momentum, "momentum", momentum >= 0 && momentum <= 1, "[0, 1]")
            try within(epsilon, "epsilon", epsilon > 0, "(0, inf)")
        case .dropout(let rate):
            try within(rate, "rate", rate >= 0 && rate < 1, "[0, 1)")
        case .residual(let layers), .concat(let layers):
            if layers.isEmpty { throw ConfigError(path: "\(at).layers", "must not be empty") }
            for (j, l) in layers.enumerated() { try l.validate(at: "\(at).layers[\(j)]", isLast: false) }
        case .denseBlock(let growth, let count, let bottleneck):
            try positive(growth, "growth_rate")
            try positive(count, "count")
            if bottleneck < 0 { throw ConfigError(path: "\(at).bottleneck", "must be >= 0, got \(bottleneck)") }
        }
        if !isLast && activation == .softmax {
            throw ConfigError(path: "\(at).activation", "softmax is only allowed on the last layer")
        }
    }
}

import Schema
import TensorCore
import NN

/// Builds models from presets or layer lists: name ▶ factory.
public enum ModelRegistry {
    /// - `lenet-300-100`: 784-300-100-10, ReLU hidden, softmax output (LeCun et al. 1998; the
    ///   network of Han et al. 2015, table 1).
    /// - `lenet-5`: Caffe's LeNet (Han et al. 2015, table 2; 430,500 weights): conv 20@5x5,
    ///   max pool 2, conv 50@5x5, max pool 2, fc 500 + ReLU, fc 10 + softmax. As in Caffe's
    ///   `lenet_train_test.prototxt`, the convolutions have no activation.
    /// - `vgg11-cifar`: VGG-11 at 1/4 width with batch norm for 32x32 RGB (CIFAR-10): conv
    ///   16, pool, 32, pool, 64, 64, pool, 128, 128, pool, 128, 128, pool (each conv 3x3 +
    ///   batch norm + ReLU), fc 128 + batch norm + ReLU, dropout 0.5, fc 10 softmax.
    /// - `vgg11-cat64`: VGG-11 at 1/8 width for 64x64 RGB (cat-vs-non-cat): conv 8 … 64,
    ///   five pools to 2x2x64, fc 64 + batch norm + ReLU, dropout 0.5, one sigmoid output.
    /// - `densenet-cifar`: DenseNet-BC-style, growth 12, three dense blocks of 4 bottleneck
    ///   layers, transitions halving the channels, global average pooling, fc 10 softmax.
    /// - `densenet-cat64`: the same with growth 8, blocks of 3, a 2x2 pool after the stem
    ///   conv (64x64 to 32x32), one sigmoid output.
    /// - `seed-carvnocar`: the carvnocar course pipeline's binary classifier, hidden 5-4-3-2 with ReLU and
    ///   one sigmoid output.
    public static let presets: [String: [LayerSpec]] = [
        "lenet-300-100": [
            .dense(units: 300, activation: .relu),
            .dense(units: 100, activation: .relu),
            .dense(units: 10, activation: .softmax),
        ],
        "lenet-5": [
            .conv(filters: 20, kernel: 5, stride: 1, padding: 0, activation: .none),
            .pool(kernel: 2, stride: 2),
            .conv(filters: 50, kernel: 5, stride: 1, padding: 0, activation: .none),
            .pool(kernel: 2, stride: 2),
            .dense(units: 500, activation: .relu),
            .dense(units: 10, activation: .softmax),
        ],
        "vgg11-cifar": vgg11(divisor: 4, hidden: 128, output: .dense(units: 10, activation: .softmax)),
        "vgg11-cat64": vgg11(divisor: 8, hidden: 64, output: .dense(units: 1, activation: .sigmoid)),
        "densenet-cifar": denseNet(growth: 12, count: 4, stemPool: false, output: .dense(units: 10, activation: .softmax)),
        "densenet-cat64": denseNet(growth: 8, count: 3, stemPool: true, output: .dense(units: 1, activation: .sigmoid)),
        "seed-carvnocar": [
            .dense(units: 5, activation: .relu),
            .dense(units: 4, activation: .relu),
            .dense(units: 3, activation: .relu),
            .dense(units: 2, activation: .relu),
            .dense(units: 1, activation: .sigmoid),
        ],
    ]

    public static var presetNames: [String] { presets.keys.sorted() }

    /// Conv 3x3 (padding 1, no activation), batch norm, ReLU: VGG's unit with batch norm
    /// (the batch norm folds into the conv for compaction).
    static func convBNReLU(_ filters: Int) -> [LayerSpec] {
        [
            .conv(filters: filters, kernel: 3, stride: 1, padding: 1, activation: .none),
            .batchnorm(momentum: 0.1, epsilon: 1e-5, activation: .relu),
        ]
    }

    /// VGG-11's feature layers (Simonyan & Zisserman 2015, configuration A: 64, M, 128, M,
    /// 256, 256, M, 512, 512, M, 512, 512, M) at `1/divisor` of the width, with batch norm.
    static func vgg11Features(divisor: Int) -> [LayerSpec] {
        let plan: [Int?] = [64, nil, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
        return plan.flatMap { w in w.map { convBNReLU($0 / divisor) } ?? [.pool(kernel: 2, stride: 2)] }
    }

    /// A VGG-11-style net: the features, then fc `hidden` + batch norm + ReLU, dropout 0.5,
    /// and the output layer.
    static func vgg11(divisor: Int, hidden: Int, output: LayerSpec) -> [LayerSpec] {
        vgg11Features(divisor: divisor) + [
            .dense(units: hidden, activation: .none), .batchnorm(momentum: 0.1, epsilon: 1e-5, activation: .relu),
            .dropout(rate: 0.5), output,
        ]
    }

    /// DenseNet-BC's transition: batch norm + ReLU, conv 1x1 to `filters`, 2x2 pooling (max
    /// pooling here; DenseNet averages).
    static func transition(_ filters: Int) -> [LayerSpec] {
        [
            .batchnorm(momentum: 0.1, epsilon: 1e-5, activation: .relu),
            .conv(filters: filters, kernel: 1, stride: 1, padding: 0, activation: .none), .pool(kernel: 2, stride: 2),
        ]
    }

    /// A DenseNet-BC-style net (Huang et al. 2017): conv 3x3 of `2 * growth` filters (then a
    /// 2x2 pool when `stem_pool`), three dense blocks of `count` bottleneck layers, each but the
    /// last followed by a transition halving the channels, batch norm + ReLU, global average
    /// pooling, and the output layer.
    static func denseNet(growth: Int, count: Int, stemPool: Bool, output: LayerSpec) -> [LayerSpec] {
        var c = 2 * growth
        var specs: [LayerSpec] = [.conv(filters: c, kernel: 3, stride: 1, padding: 1, activation: .none)]
        if stemPool { specs.append(.pool(kernel: 2, stride: 2)) }
        for block in 0..<3 {
            specs.append(.denseBlock(growthRate: growth, count: count, bottleneck: 4))
            c += growth * count
            if block < 2 {
                c /= 2
                specs += transition(c)
            }
        }
        return specs + [.batchnorm(momentum: 0.1, epsilon: 1e-5, activation: .relu), .globalAvgPool, output]
    }

    /// One line per preset, for `prunelab list presets` and the docs.
    public static let presetHelp: [String: String] = [
        "lenet-300-100": "784-300-100-10, ReLU hidden, softmax output (LeCun et al. 1998; Han et al. 2015 table 1)",
        "lenet-5":
            "Caffe's LeNet-5: conv 20@5x5, pool 2, conv 50@5x5, pool 2, fc 500 ReLU, fc 10; 430,500 weights (Han et al. 2015 table 2)",
        "seed-carvnocar": "the carvnocar course pipeline's binary classifier: hidden 5-4-3-2 ReLU, one sigmoid output",
        "vgg11-cifar":
            "VGG-11 at 1/4 width with batch norm, 32x32 RGB: 8 conv3x3-BN-ReLU (16..128), 5 pools, fc 128-BN-ReLU, dropout 0.5, fc 10",
        "vgg11-cat64":
            "VGG-11 at 1/8 width with batch norm, 64x64 RGB: 8 conv3x3-BN-ReLU (8..64), 5 pools, fc 64-BN-ReLU, dropout 0.5, 1 sigmoid",
        "densenet-cifar":
            "DenseNet-BC-style, 32x32 RGB: conv 24, 3 dense blocks of 4 bottleneck layers (growth 12), max-pool transitions, GAP, fc 10",
        "densenet-cat64":
            "DenseNet-BC-style, 64x64 RGB: conv 16, pool, 3 dense blocks of 3 bottleneck layers (growth 8), max-pool transitions, GAP, 1 sigmoid",
    ]

    /// The layer list a model config stands for.
    public static func layerSpecs(_ config: ModelConfig) throws -> [LayerSpec] {
        if let layers = config.layers { return layers }
        guard let name = config.preset, let specs = presets[name] else {
            throw ConfigError(
                path: "model.preset", "unknown preset \"\(config.preset ?? "")\"; known: \(presetNames.joined(separator: ", "))")
        }
        return specs
    }

    /// Builds the network for samples of `inputShape` (`[C, H, W]`) and `classCount` classes.
    ///
    /// Names count per kind: `conv1`, `conv2`, …; `pool1`, …; dense layers `fc1`, `fc2`, …;
    /// activations `act1`, … after the layer list's position. Every shape is checked here, so a
    /// kernel larger than its input is a config error naming the layer, not a crash.
    public static func build(_ config: ModelConfig, inputShape: [Int], classCount: Int) throws -> Sequential {
        let specs = try layerSpecs(config)
        guard let last = specs.last else { throw ConfigError(path: "model.layers", "must not be empty") }
        func at(_ i: Int) -> String {
            config.preset.map { "model.preset \"\($0)\" (layer \(i + 1))" } ?? "model.layers[\(i)]"
        }
        if last.activation == .softmax && last.units != classCount {
            throw ConfigError(
                path: at(specs.count - 1), "the softmax output has \(last.units ?? 0) units but the data has \(classCount) classes")
        }
        if last.activation == .sigmoid && classCount != 2 {
            throw ConfigError(path: at(specs.count - 1), "a sigmoid output needs 2 classes, the data has \(classCount)")
        }
        var layers: [Layer] = []
        var shape = inputShape
        var names = LayerNames()
        for (i, spec) in specs.enumerated() {
            try appendWithActivation(
                spec, at: at(i), activationName: "act\(i + 1)", isLast: i == specs.count - 1,
                shape: &shape, layers: &layers, names: &names)
        }
        let loss: LossKind = last.activation == .sigmoid ? .sigmoidBinaryCrossEntropy : .softmaxCrossEntropy
        return Sequential(layers: layers, inputShape: inputShape, loss: loss)
    }

    /// Names count per kind: `conv1`, `pool1`, `flatten1`, `fc1`, ...
    struct LayerNames {
        var counts: [LayerSpec.Kind: Int] = [:]
        mutating func next(_ kind: LayerSpec.Kind) -> Int {
            counts[kind, default: 0] += 1
            return counts[kind]!
        }
    }

    /// Appends the layers of one spec (a `dense_block` stands for its concat blocks) and its
    /// activation layer, named `activationName` (a sigmoid on the last layer is the loss's).
    static func appendWithActivation(
        _ spec: LayerSpec, at: String, activationName: String, isLast: Bool,
        shape: inout [Int], layers: inout [Layer], names: inout LayerNames
    ) throws {
        for part in spec.expanded { try append(part, at: at, shape: &shape, layers: &layers, names: &names) }
        switch spec.activation {
        case .elementwise(let kind):
            // a sigmoid on the last layer is the loss's head
            if !(isLast && spec.activation == .sigmoid) { layers.append(Activation(name: activationName, kind: kind)) }
        case .none, .softmax: break
        }
    }

    /// Builds a residual or concat block from its body's specs (named `res1`, `cat1`, …; the
    /// body's activations `res1.act1`, …), checking that the body keeps the shape it must.
    static func block(
        _ merge: Block.Merge, body: [LayerSpec], at: String, shape: [Int], names: inout LayerNames
    ) throws -> Block {
        let name = merge == .add ? "res\(names.next(.residual))" : "cat\(names.next(.concat))"
        var inner: [Layer] = []
        var s = shape
        for (j, spec) in body.enumerated() {
            try appendWithActivation(
                spec, at: "\(at).layers[\(j)]", activationName: "\(name).act\(j + 1)", isLast: false,
                shape: &s, layers: &inner, names: &names)
        }
        switch merge {
        case .add where s != shape:
            throw ConfigError(path: at, "a residual body must keep the shape \(shape) of its input; it gives \(s)")
        case .concat where s.count != shape.count || s.dropFirst() != shape.dropFirst():
            throw ConfigError(path: at, "a concat body must keep the size \(Array(shape.dropFirst())) of its input; it gives \(s)")
        default: break
        }
        return Block(name: name, merge: merge, body: inner)
    }

    /// Appends the layers of one spec (a dense layer after an image gets a Flatten first) and
    /// advances the per-sample `shape`; `at` names the spec in errors.
    static func append(_ spec: LayerSpec, at: String, shape: inout [Int], layers: inout [Layer], names: inout LayerNames) throws {
        func checkImage(_ k: Int, _ p: Int) throws {
            guard shape.count == 3 else {
                throw ConfigError(path: at, "a \(spec.kind.rawValue) layer needs image input [C, H, W], got \(shape)")
            }
            guard shape[1] + 2 * p >= k && shape[2] + 2 * p >= k else {
                throw ConfigError(path: at, "kernel \(k) is larger than its input \(shape[1])x\(shape[2])\(p > 0 ? " padded by \(p)" : "")")
            }
        }
        switch spec {
        case .conv(let filters, let k, let s, let p, _):
            try checkImage(k, p)
            layers.append(
                Conv2D(
                    name: "conv\(names.next(.conv))", inChannels: shape[0], outChannels: filters,
                    kernel: k, stride: s, padding: p))
        case .pool(let k, let s):
            try checkImage(k, 0)
            layers.append(MaxPool2D(name: "pool\(names.next(.pool))", kernel: k, stride: s))
        case .flatten:
            layers.append(Flatten(name: "flatten\(names.next(.flatten))"))
        case .batchnorm(let momentum, let epsilon, _):
            guard shape.count == 3 || shape.count == 1 else {
                throw ConfigError(path: at, "a batchnorm layer needs [C, H, W] or [F] input, got \(shape)")
            }
            layers.append(BatchNorm(name: "bn\(names.next(.batchnorm))", channels: shape[0], momentum: momentum, epsilon: epsilon))
        case .dropout(let rate):
            layers.append(Dropout(name: "drop\(names.next(.dropout))", rate: rate))
        case .globalAvgPool:
            try checkImage(1, 0)
            layers.append(GlobalAvgPool(name: "gap\(names.next(.globalAvgPool))"))
        case .residual(let body):
            layers.append(try block(.add, body: body, at: at, shape: shape, names: &names))
        case .concat(let body):
            layers.append(try block(.concat, body: body, at: at, shape: shape, names: &names))
        case .denseBlock:
            preconditionFailure("dense_block is expanded before append")
        case .dense(let units, _):
            if shape.count > 1 {
                layers.append(Flatten(name: "flatten\(names.next(.flatten))"))
                shape = [shape.reduce(1, *)]
            }
            layers.append(Dense(name: "fc\(names.next(.dense))", inputSize: shape[0], outputSize: units))
        }
        shape = layers.last!.outputShape(for: shape)
    }

    public static func initializer(_ config: ModelConfig) -> Initializer {
        switch config.initializer {
        case .he: return .he
        case .xavier: return .xavier
        case .normal: return .normal(scale: config.initScale)
        }
    }
}

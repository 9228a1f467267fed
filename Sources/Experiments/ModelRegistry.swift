import TensorCore
import NN

/// Builds models from presets or layer lists: name ▶ factory.
public enum ModelRegistry {
    /// - `lenet-300-100`: 784-300-100-10, ReLU hidden, softmax output (LeCun et al. 1998; the
    ///   network of Han et al. 2015, table 1).
    /// - `lenet-5`: Caffe's LeNet (Han et al. 2015, table 2; 430,500 weights): conv 20@5x5,
    ///   max pool 2, conv 50@5x5, max pool 2, fc 500 + ReLU, fc 10 + softmax. As in Caffe's
    ///   `lenet_train_test.prototxt`, the convolutions have no activation.
    /// - `seed-carvnocar`: the seed project's binary classifier, hidden 5-4-3-2 with ReLU and
    ///   one sigmoid output.
    public static let presets: [String: [LayerSpec]] = [
        "lenet-300-100": [
            LayerSpec(units: 300, activation: .relu),
            LayerSpec(units: 100, activation: .relu),
            LayerSpec(units: 10, activation: .softmax),
        ],
        "lenet-5": [
            .conv(filters: 20, kernel: 5),
            .pool(kernel: 2),
            .conv(filters: 50, kernel: 5),
            .pool(kernel: 2),
            LayerSpec(units: 500, activation: .relu),
            LayerSpec(units: 10, activation: .softmax),
        ],
        "seed-carvnocar": [
            LayerSpec(units: 5, activation: .relu),
            LayerSpec(units: 4, activation: .relu),
            LayerSpec(units: 3, activation: .relu),
            LayerSpec(units: 2, activation: .relu),
            LayerSpec(units: 1, activation: .sigmoid),
        ],
    ]

    public static var presetNames: [String] { presets.keys.sorted() }

    /// The layer list a model config stands for.
    public static func layerSpecs(_ config: ModelConfig) throws -> [LayerSpec] {
        if let layers = config.layers { return layers }
        guard let name = config.preset, let specs = presets[name] else {
            throw ConfigError(path: "model.preset", "unknown preset \"\(config.preset ?? "")\"; known: \(presetNames.joined(separator: ", "))")
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
        switch last.outputActivation {
        case .softmax where last.units != classCount:
            throw ConfigError(path: at(specs.count - 1), "the softmax output has \(last.units ?? 0) units but the data has \(classCount) classes")
        case .sigmoid where classCount != 2:
            throw ConfigError(path: at(specs.count - 1), "a sigmoid output needs 2 classes, the data has \(classCount)")
        default: break
        }
        var layers: [Layer] = []
        var shape = inputShape
        var counts: [LayerSpec.Kind: Int] = [:]
        func next(_ kind: LayerSpec.Kind) -> Int {
            counts[kind, default: 0] += 1
            return counts[kind]!
        }
        for (i, spec) in specs.enumerated() {
            switch spec.type {
            case .conv, .pool:
                guard shape.count == 3 else {
                    throw ConfigError(path: at(i), "a \(spec.type.rawValue) layer needs image input [C, H, W], got \(shape)")
                }
                let k = spec.kernel!, s = spec.stride!, p = spec.padding ?? 0
                guard shape[1] + 2 * p >= k && shape[2] + 2 * p >= k else {
                    throw ConfigError(path: at(i), "kernel \(k) is larger than its input \(shape[1])x\(shape[2])\(p > 0 ? " padded by \(p)" : "")")
                }
                if spec.type == .conv {
                    let conv = Conv2D(name: "conv\(next(.conv))", inChannels: shape[0], outChannels: spec.filters!,
                                      kernel: k, stride: s, padding: p)
                    layers.append(conv)
                } else {
                    layers.append(MaxPool2D(name: "pool\(next(.pool))", kernel: k, stride: s))
                }
            case .flatten:
                layers.append(Flatten(name: "flatten\(next(.flatten))"))
            case .dense:
                if shape.count > 1 { layers.append(Flatten(name: "flatten\(next(.flatten))")) ; shape = [shape.reduce(1, *)] }
                layers.append(Dense(name: "fc\(next(.dense))", inputSize: shape[0], outputSize: spec.units!))
            }
            shape = layers.last!.outputShape(for: shape)
            switch spec.activation {
            case .relu: layers.append(Activation(name: "act\(i + 1)", kind: .relu))
            case .sigmoid where i < specs.count - 1: layers.append(Activation(name: "act\(i + 1)", kind: .sigmoid))
            case .tanh: layers.append(Activation(name: "act\(i + 1)", kind: .tanh))
            default: break
            }
        }
        let loss: LossKind = last.outputActivation == .sigmoid ? .sigmoidBinaryCrossEntropy : .softmaxCrossEntropy
        return Sequential(layers: layers, inputShape: inputShape, loss: loss)
    }

    public static func initializer(_ config: ModelConfig) -> Initializer {
        switch config.initializer {
        case .he: return .he
        case .xavier: return .xavier
        case .normal: return .normal(scale: config.initScale)
        }
    }
}

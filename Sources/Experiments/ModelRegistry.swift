import TensorCore
import NN

/// Builds models from presets or layer lists: name ▶ factory.
public enum ModelRegistry {
    /// `lenet-300-100`: 784-300-100-10, ReLU hidden, softmax output (LeCun et al. 1998; the
    /// network of Han et al. 2015, table 1). `seed-carvnocar`: the seed project's binary
    /// classifier, hidden 5-4-3-2 with ReLU and one sigmoid output.
    public static let presets: [String: [LayerSpec]] = [
        "lenet-300-100": [
            LayerSpec(units: 300, activation: .relu),
            LayerSpec(units: 100, activation: .relu),
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

    /// Builds the network for samples of `inputShape` and `classCount` classes; dense layers are
    /// named `fc1`, `fc2`, … and activations `act1`, ….
    public static func build(_ config: ModelConfig, inputShape: [Int], classCount: Int) throws -> Sequential {
        let specs = try layerSpecs(config)
        guard let last = specs.last else { throw ConfigError(path: "model.layers", "must not be empty") }
        let where_ = config.preset.map { "model.preset \"\($0)\"" } ?? "model.layers[\(specs.count - 1)]"
        switch last.activation {
        case .softmax where last.units != classCount:
            throw ConfigError(path: where_, "the softmax output has \(last.units) units but the data has \(classCount) classes")
        case .sigmoid where classCount != 2:
            throw ConfigError(path: where_, "a sigmoid output needs 2 classes, the data has \(classCount)")
        default: break
        }
        var layers: [Layer] = []
        var inputs = inputShape.reduce(1, *)
        for (i, spec) in specs.enumerated() {
            layers.append(Dense(name: "fc\(i + 1)", inputSize: inputs, outputSize: spec.units))
            inputs = spec.units
            switch spec.activation {
            case .relu: layers.append(Activation(name: "act\(i + 1)", kind: .relu))
            case .sigmoid where i < specs.count - 1: layers.append(Activation(name: "act\(i + 1)", kind: .sigmoid))
            case .tanh: layers.append(Activation(name: "act\(i + 1)", kind: .tanh))
            default: break
            }
        }
        let loss: LossKind = last.activation == .sigmoid ? .sigmoidBinaryCrossEntropy : .softmaxCrossEntropy
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

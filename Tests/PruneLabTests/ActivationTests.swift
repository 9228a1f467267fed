import Testing
import Foundation
import TensorCore
import NN
@testable import Pruning
@testable import Experiments

/// The activation list (`ActivationKind`) against what each activation computes: the
/// properties other code asks are checked against the forward pass, and every case is
/// reachable from a config.
@Suite struct ActivationTests {
    /// `mapsZeroToZero` (what compaction relies on) is `f(0) == 0` exactly, for both signs of
    /// zero, and a nonzero input shows the function is not the zero map.
    @Test(arguments: ActivationKind.allCases)
    func mapsZeroToZeroMatchesTheForwardPass(kind: ActivationKind) {
        let layer = Activation(name: "act", kind: kind)
        let y = layer.forward(Tensor(shape: [1, 3], scalars: [0, -0.0, 1]), training: false)
        let zeroToZero = y.scalars[0] == 0 && y.scalars[1] == 0
        #expect(kind.mapsZeroToZero == zeroToZero, "\(kind): f(0) = \(y.scalars[0]), f(-0) = \(y.scalars[1])")
        #expect(y.scalars[2] != 0, "\(kind): f(1) = \(y.scalars[2])")
    }

    /// Compaction removes a zero unit before an activation exactly when the activation maps 0
    /// to 0 (a hidden dense layer of 4 units, unit 2 zeroed, then the activation, then the
    /// output layer).
    @Test(arguments: ActivationKind.allCases)
    func compactionKeepsUnitsBeforeActivationsThatMoveZero(kind: ActivationKind) {
        let layers: [Layer] = [
            Dense(name: "fc1", inputSize: 3, outputSize: 4), Activation(name: "act1", kind: kind),
            Dense(name: "fc2", inputSize: 4, outputSize: 2),
        ]
        #expect(Compaction.zeroMapsToZero(after: 0, in: layers) == kind.mapsZeroToZero)
    }

    /// Every activation is a config value (`"activation": "<rawValue>"`) that builds a net with
    /// that activation after the hidden layer; the docs name each one with its formula.
    @Test(arguments: ActivationKind.allCases)
    func everyActivationIsAConfigValue(kind: ActivationKind) throws {
        let json = """
            {"layers": [{"type": "dense", "units": 5, "activation": "\(kind.rawValue)"},
                        {"type": "dense", "units": 3, "activation": "softmax"}]}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        try config.validate()
        let model = try ModelRegistry.build(config, inputShape: [4], classCount: 3)
        let kinds = model.leafLayers.compactMap { ($0 as? Activation)?.kind }
        #expect(kinds == [kind])
        let help = try #require(LayerSpec.keys[.dense]?.first { $0.key == .activation }?.help)
        #expect(help.contains("\(kind.rawValue) = \(kind.help)"))
    }

    /// An unknown activation name is a config error listing the valid ones, not a net without
    /// the activation.
    @Test func unknownActivationIsRejected() {
        let json = #"{"layers": [{"type": "dense", "units": 3, "activation": "swish"}]}"#
        let error = #expect(throws: (any Error).self) { try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) }
        let text = "\(error.map { "\($0)" } ?? "")"
        for kind in ActivationKind.allCases { #expect(text.contains(kind.rawValue), "\(text)") }
    }
}

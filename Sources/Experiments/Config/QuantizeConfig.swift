import Foundation
import Schema
import Quantization

/// `training.quantize`: quantization-aware training with the straight-through estimator.
///
/// From `start_epoch` on, every step's forward and backward passes run on the weights
/// fake-quantized as `prunelab quantize` would store them (`QuantizedTensor`: per channel or
/// per layer, over the live weights, pruned weights 0), and the optimizer applies that gradient
/// to the float weights, treating quantization as the identity in the backward pass. `model.h5`
/// keeps the float weights; the run also writes `model-quantized.h5` and reports the quantized
/// model's test accuracy in `summary.csv`.
public struct QuantizeConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        (
            "bits",
            "quantization-aware training (straight-through estimator) at this code width, 1, 2, 4 or 8 (0: off); 1 bit is sign · mean |w| over the live weights"
        ),
        ("per_channel", "one scale per output channel (else one per layer)"),
        ("start_epoch", "first epoch (1-based) trained on the quantized weights"),
    ]
    public var bits: Int
    public var perChannel: Bool
    public var startEpoch: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case bits, perChannel = "per_channel", startEpoch = "start_epoch"
    }

    public init(bits: Int, perChannel: Bool, startEpoch: Int = 1) {
        self.bits = bits
        self.perChannel = perChannel
        self.startEpoch = startEpoch
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bits = try c.value(.bits, default: 0)
        perChannel = try c.value(.perChannel, default: true)
        startEpoch = try c.value(.startEpoch, default: 1)
    }

    /// Whether quantization-aware training is on.
    public var enabled: Bool { bits != 0 }

    /// The quantizer's settings (only when `enabled`).
    public var spec: QuantizationSpec { QuantizationSpec(bits: bits, perChannel: perChannel) }

    public func validate(at path: String) throws {
        if bits != 0 && !QuantizationSpec.supportedBits.contains(bits) {
            throw ConfigError(path: child(path, "bits"), "must be 0 (off), 1, 2, 4 or 8, got \(bits)")
        }
        if startEpoch < 1 { throw ConfigError(path: child(path, "start_epoch"), "must be >= 1, got \(startEpoch)") }
    }
}

/// The weights as `QuantizedTensor` would store and restore them, computed in place without
/// forming codes: what quantization-aware training runs its forward and backward passes on.
/// Equal bit for bit to `QuantizedTensor(values:shape:mask:spec:).dequantized()`.
public enum FakeQuantize {
    /// Replaces `values` (row-major, `groups` equal rows, or 1 group per layer) by their
    /// quantized values; `mask` entries 0 mark pruned weights, which become 0. A live weight that
    /// is not finite, or in a group whose scale is not, becomes NaN (it has no code).
    public static func apply(_ values: inout [Float], rows: Int, mask: [Float]?, spec: QuantizationSpec) {
        let groups = spec.perChannel ? rows : 1
        guard groups > 0 else { return }
        let size = values.count / groups
        values.withUnsafeMutableBufferPointer { v in
            for g in 0..<groups {
                let lo = g * size, hi = lo + size
                let s = scale(v, lo, hi, mask: mask, spec: spec)
                for i in lo..<hi {
                    if let mask, mask[i] == 0 {
                        v[i] = 0
                    } else if v[i].isFinite && s.isFinite {
                        v[i] = QuantizedTensor.value(code: QuantizedTensor.code(v[i], scale: s, spec: spec), scale: s, spec: spec)
                    } else {
                        // a diverged weight has no code: NaN carries on, so the loss check names the step
                        v[i] = .nan
                    }
                }
            }
        }
    }

    /// The scale of entries lo..<hi, as `QuantizedTensor.scale` computes it.
    static func scale(_ v: UnsafeMutableBufferPointer<Float>, _ lo: Int, _ hi: Int, mask: [Float]?, spec: QuantizationSpec) -> Float {
        var maxAbs: Float = 0, sumAbs: Double = 0, n = 0
        for i in lo..<hi where mask?[i] ?? 1 != 0 {
            maxAbs = max(maxAbs, abs(v[i]))
            sumAbs += Double(abs(v[i]))
            n += 1
        }
        if spec.bits == 1 { return n == 0 ? 0 : Float(sumAbs / Double(n)) }
        return maxAbs / Float(spec.maxLevel)
    }
}

/// How a weight tensor is quantized: the code width and whether every output channel (row of
/// `[out, ...]`) gets its own scale or the whole layer shares one.
public struct QuantizationSpec: Sendable, Equatable {
    /// Bits per stored code: 1, 2, 4 or 8.
    public var bits: Int
    /// One scale per output channel (`shape[0]`) when true, one per layer when false.
    public var perChannel: Bool

    /// The code widths PruneLab stores (each divides 8, so no code straddles a byte).
    public static let supportedBits = [1, 2, 4, 8]

    public init(bits: Int, perChannel: Bool) {
        precondition(Self.supportedBits.contains(bits), "unsupported bit width \(bits); supported: \(Self.supportedBits)")
        self.bits = bits
        self.perChannel = perChannel
    }

    /// The largest level magnitude m = 2^(bits-1) - 1 of the symmetric grid (0 for 1 bit).
    public var maxLevel: Int { (1 << (bits - 1)) - 1 }
}

/// One weight tensor after quantization: a code per live weight, a scale per group, and which
/// weights are live.
///
/// Live weights are those the mask keeps (all of them for a dense tensor); pruned weights get
/// no code and dequantize to exactly 0. Groups are the rows of `[shape[0], rest]` (per channel)
/// or the whole tensor (per layer). With bits b >= 2 the grid is symmetric uniform:
/// m = 2^(b-1) - 1, scale s = max|w| / m over the group's live weights, level
/// q = clamp(round(w / s), -m, m) (rounding half away from zero), stored as the code q + m in
/// [0, 2m], dequantized as s · q. With 1 bit the scale is the mean |w| over the group's live
/// weights, the code is 1 for w >= 0 and 0 for w < 0, and the value is ±s: binary on the live
/// weights, so ternary {-s, 0, +s} with the pruned ones. A group whose live weights are all 0
/// (or that has none) has scale 0.
public struct QuantizedTensor: Sendable, Equatable {
    public var shape: [Int]
    public var spec: QuantizationSpec
    /// Codes of the live weights in row-major order, one per element (unpacked).
    public var codes: [UInt8]
    /// One scale per group: `shape[0]` of them per channel, 1 per layer.
    public var scales: [Float]
    /// Whether each weight (row-major) is live.
    public var live: [Bool]

    public var rows: Int { shape.first ?? 1 }
    public var count: Int { live.count }
    public var columns: Int { rows == 0 ? 0 : count / rows }

    public init(shape: [Int], spec: QuantizationSpec, codes: [UInt8], scales: [Float], live: [Bool]) {
        self.shape = shape
        self.spec = spec
        self.codes = codes
        self.scales = scales
        self.live = live
    }

    /// Quantizes `values` (row-major over `shape`, every one finite: a NaN or infinity has no
    /// code); `mask` (1 kept, 0 pruned) marks live weights, nil means every weight is live.
    public init(values: [Float], shape: [Int], mask: [Float]?, spec: QuantizationSpec) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        precondition(mask == nil || mask!.count == values.count, "mask has \(mask!.count) entries, weight \(values.count)")
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            preconditionFailure("value \(values[i]) at index \(i) has no code; callers check weights for NaN and infinity")
        }
        let live = mask.map { $0.map { $0 != 0 } } ?? [Bool](repeating: true, count: values.count)
        let groups = spec.perChannel ? (shape.first ?? 1) : 1
        let groupSize = groups == 0 ? 0 : values.count / groups
        var scales: [Float] = []
        var codes: [UInt8] = []
        codes.reserveCapacity(live.lazy.filter { $0 }.count)
        for g in 0..<groups {
            let range = (g * groupSize)..<((g + 1) * groupSize)
            let s = Self.scale(values[range], live: live[range], spec: spec)
            scales.append(s)
            for i in range where live[i] { codes.append(Self.code(values[i], scale: s, spec: spec)) }
        }
        self.init(shape: shape, spec: spec, codes: codes, scales: scales, live: live)
    }

    /// The group's scale: mean |w| (1 bit) or max |w| / m over its live weights.
    static func scale(_ values: ArraySlice<Float>, live: ArraySlice<Bool>, spec: QuantizationSpec) -> Float {
        var maxAbs: Float = 0, sumAbs: Double = 0, n = 0
        for (w, l) in zip(values, live) where l {
            maxAbs = max(maxAbs, abs(w))
            sumAbs += Double(abs(w))
            n += 1
        }
        if spec.bits == 1 { return n == 0 ? 0 : Float(sumAbs / Double(n)) }
        return maxAbs / Float(spec.maxLevel)
    }

    /// The code of one live weight at scale `s`.
    static func code(_ w: Float, scale s: Float, spec: QuantizationSpec) -> UInt8 {
        if spec.bits == 1 { return w < 0 ? 0 : 1 }
        let m = spec.maxLevel
        let q = s > 0 ? min(max(Int((w / s).rounded()), -m), m) : 0
        return UInt8(q + m)
    }

    /// The value a code stands for at scale `s`.
    @inline(__always)
    static func value(code: UInt8, scale s: Float, spec: QuantizationSpec) -> Float {
        spec.bits == 1 ? (code == 0 ? -s : s) : s * Float(Int(code) - spec.maxLevel)
    }

    /// The dequantized weights, row-major over `shape` (pruned weights exactly 0).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        let groupSize = scales.count == 0 ? 0 : count / scales.count
        var k = 0
        for i in 0..<count where live[i] {
            out[i] = Self.value(code: codes[k], scale: scales[i / groupSize], spec: spec)
            k += 1
        }
        return out
    }

    /// Live weights (codes stored).
    public var liveCount: Int { codes.count }
}

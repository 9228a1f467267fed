/// Packs b-bit codes (b in 1, 2, 4, 8) into bytes, least significant bits first: code k sits in
/// bits [k·b, (k+1)·b) of the stream, byte j holding stream bits 8j ..< 8j+8 with bit 0 its
/// lowest. A stream of n codes takes ceil(n·b / 8) bytes; unused high bits of the last byte are 0.
/// (numpy reads it with `np.unpackbits(a, bitorder="little")`.)
public enum BitPacking {
    /// Bytes that `count` codes of `bits` bits take.
    public static func packedCount(_ count: Int, bits: Int) -> Int { (count * bits + 7) / 8 }

    public static func pack(_ codes: [UInt8], bits: Int) -> [UInt8] {
        precondition([1, 2, 4, 8].contains(bits), "bits must be 1, 2, 4 or 8, got \(bits)")
        if bits == 8 { return codes }
        let perByte = 8 / bits, limit = UInt8((1 << bits) - 1)
        var out = [UInt8](repeating: 0, count: packedCount(codes.count, bits: bits))
        for (k, c) in codes.enumerated() {
            precondition(c <= limit, "code \(c) does not fit in \(bits) bits")
            out[k / perByte] |= c << UInt8((k % perByte) * bits)
        }
        return out
    }

    /// The first `count` codes of a packed stream; nil when `bytes` is too short for them.
    public static func unpack(_ bytes: [UInt8], count: Int, bits: Int) -> [UInt8]? {
        precondition([1, 2, 4, 8].contains(bits), "bits must be 1, 2, 4 or 8, got \(bits)")
        guard bytes.count >= packedCount(count, bits: bits) else { return nil }
        if bits == 8 { return Array(bytes.prefix(count)) }
        let perByte = 8 / bits, limit = UInt8((1 << bits) - 1)
        return (0..<count).map { k in (bytes[k / perByte] >> UInt8((k % perByte) * bits)) & limit }
    }
}

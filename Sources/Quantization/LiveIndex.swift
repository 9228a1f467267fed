/// Where the live weights of a `[rows, columns]` tensor sit, in the smaller of two encodings.
///
/// - `bitmask`: one bit per weight, row-major, packed least significant bit first
///   (`BitPacking` with 1 bit): ceil(rows·columns / 8) bytes.
/// - `csr`: `row_ptr` (rows + 1 offsets into the live weights) and `col_index` (the column of
///   each live weight), each in the narrowest of uint8/uint16/uint32 that holds its largest
///   value: (rows + 1)·w(live) + live·w(columns - 1) bytes, w(x) being 1, 2 or 4.
/// - `none`: every weight is live (a dense tensor), 0 bytes.
///
/// `choose` takes `none` when nothing is pruned, else whichever of bitmask and CSR is smaller
/// (bitmask on a tie).
public enum LiveIndex: Sendable, Equatable {
    case none
    case bitmask([UInt8])
    case csr(rowPtr: [Int], colIndex: [Int])

    /// The name written to the file's `index` attribute.
    public var name: String {
        switch self {
        case .none: "none"
        case .bitmask: "bitmask"
        case .csr: "csr"
        }
    }

    /// Bytes of the narrowest unsigned type (1, 2 or 4) that holds `largest`.
    public static func width(_ largest: Int) -> Int { largest <= 0xFF ? 1 : largest <= 0xFFFF ? 2 : 4 }

    /// The smaller encoding of `live` (row-major over `[rows, count / rows]`).
    public static func choose(live: [Bool], rows: Int) -> LiveIndex {
        let n = live.count, liveCount = live.lazy.filter { $0 }.count
        if liveCount == n { return .none }
        let cols = rows == 0 ? 0 : n / rows
        let csrBytes = (rows + 1) * width(liveCount) + liveCount * width(max(cols - 1, 0))
        if BitPacking.packedCount(n, bits: 1) <= csrBytes {
            return .bitmask(BitPacking.pack(live.map { $0 ? 1 : 0 }, bits: 1))
        }
        var rowPtr = [0], colIndex: [Int] = []
        colIndex.reserveCapacity(liveCount)
        for r in 0..<rows {
            for c in 0..<cols where live[r * cols + c] { colIndex.append(c) }
            rowPtr.append(colIndex.count)
        }
        return .csr(rowPtr: rowPtr, colIndex: colIndex)
    }

    /// Bytes the index takes on disk (its arrays' payload), given the tensor's column count.
    public func bytes(columns: Int) -> Int {
        switch self {
        case .none: 0
        case .bitmask(let b): b.count
        case .csr(let rowPtr, let colIndex):
            rowPtr.count * Self.width(rowPtr.last ?? 0) + colIndex.count * Self.width(max(columns - 1, 0))
        }
    }

    /// Whether each of `count` weights (row-major, `columns` per row) is live; nil when the
    /// index does not describe such a tensor.
    public func live(count: Int, columns: Int) -> [Bool]? {
        switch self {
        case .none: return [Bool](repeating: true, count: count)
        case .bitmask(let b): return BitPacking.unpack(b, count: count, bits: 1)?.map { $0 != 0 }
        case .csr(let rowPtr, let colIndex):
            let rows = columns == 0 ? 0 : count / columns
            guard rowPtr.count == rows + 1, rowPtr.first == 0, rowPtr.last == colIndex.count else { return nil }
            var live = [Bool](repeating: false, count: count)
            for r in 0..<rows {
                guard rowPtr[r] <= rowPtr[r + 1] else { return nil }
                for k in rowPtr[r]..<rowPtr[r + 1] {
                    let c = colIndex[k]
                    guard c >= 0 && c < columns else { return nil }
                    live[r * columns + c] = true
                }
            }
            return live
        }
    }
}

extension QuantizedTensor {
    /// The packed codes: ceil(live · bits / 8) bytes.
    public var packedCodes: [UInt8] { BitPacking.pack(codes, bits: spec.bits) }

    /// The live-weight index in its smaller encoding.
    public var index: LiveIndex { LiveIndex.choose(live: live, rows: rows) }

    /// Bytes on disk of codes, scales (float32) and index (the bias is counted by the writer).
    public var payloadBytes: Int {
        BitPacking.packedCount(liveCount, bits: spec.bits) + 4 * scales.count + index.bytes(columns: columns)
    }
}

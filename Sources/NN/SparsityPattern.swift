import TensorCore

/// The index structure of a 2-D mask `[rows, cols]`: compressed sparse rows and compressed
/// sparse columns of its nonzero entries, as flat indices into the weight tensor.
///
/// Built in O(rows * cols) from the mask (two passes), immutable afterwards, and shared by the
/// data-parallel replicas of a model (`Sequential.shareWeights`). Values are not copied: the
/// kernels read `W[flat index]` from the live weight tensor, so the structure stays valid for
/// every optimizer step until the mask changes.
public final class SparsityPattern: Sendable {
    public let rows: Int
    public let cols: Int
    /// Unmasked entries.
    public let nonzeros: Int
    /// CSR: entries of row `r` are `csrPtr[r]..<csrPtr[r+1]`, in increasing column order.
    public let csrPtr: [Int32]
    /// Column of each CSR entry.
    public let csrCol: [Int32]
    /// Flat index `r * cols + c` of each CSR entry (also the sorted list of live weights).
    public let csrFlat: [Int32]
    /// CSC: entries of column `c` are `cscPtr[c]..<cscPtr[c+1]`, in increasing row order.
    public let cscPtr: [Int32]
    /// Row of each CSC entry.
    public let cscRow: [Int32]
    /// Flat index of each CSC entry.
    public let cscFlat: [Int32]
    /// CSR position (index into `csrFlat`) of each CSC entry: where a kernel walking the
    /// columns writes an entry of a compact gradient (`Parameter.compactGradient`; a kernel
    /// walking the rows writes entry k at k).
    public let cscPosition: [Int32]

    public var density: Double { rows * cols == 0 ? 0 : Double(nonzeros) / Double(rows * cols) }

    /// The C kernels' view of the compressed rows: (row starts, flat indices, column indices);
    /// the last two are nil for an empty pattern.
    public func withCSR<R>(
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> R
    ) rethrows -> R {
        try Self.withArrays(csrPtr, csrFlat, csrCol, body)
    }

    /// The C kernels' view of the compressed columns: (column starts, flat indices, row indices),
    /// or CSR positions (`cscPosition`) in place of the flat indices when `positions`.
    public func withCSC<R>(
        positions: Bool = false,
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> R
    ) rethrows -> R {
        try Self.withArrays(cscPtr, positions ? cscPosition : cscFlat, cscRow, body)
    }

    private static func withArrays<R>(
        _ ptr: [Int32], _ flat: [Int32], _ index: [Int32],
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> R
    ) rethrows -> R {
        try ptr.withUnsafeBufferPointer { p in
            try flat.withUnsafeBufferPointer { f in
                try index.withUnsafeBufferPointer { i in try body(p.baseAddress!, f.baseAddress, i.baseAddress) }
            }
        }
    }

    /// The pattern of `mask` (nonzero = kept), read as `[rows, cols]` row-major.
    public init(mask: UnsafeBufferPointer<Float>, rows: Int, cols: Int) {
        precondition(mask.count == rows * cols, "SparsityPattern: \(mask.count) mask entries for \(rows)x\(cols)")
        precondition(rows * cols <= Int(Int32.max), "SparsityPattern: \(rows)x\(cols) does not fit 32-bit indices")
        self.rows = rows
        self.cols = cols
        var rp = [Int32](repeating: 0, count: rows + 1)
        var colCount = [Int32](repeating: 0, count: cols + 1)
        var nnz = 0
        for r in 0..<rows {
            let base = r * cols
            for c in 0..<cols where mask[base + c] != 0 {
                nnz += 1
                colCount[c + 1] += 1
            }
            rp[r + 1] = Int32(nnz)
        }
        var cc = [Int32](repeating: 0, count: nnz)
        var cf = [Int32](repeating: 0, count: nnz)
        var k = 0
        for r in 0..<rows {
            let base = r * cols
            for c in 0..<cols where mask[base + c] != 0 {
                cc[k] = Int32(c); cf[k] = Int32(base + c); k += 1
            }
        }
        for c in 0..<cols { colCount[c + 1] += colCount[c] }
        let cp = colCount
        var next = Array(cp.dropLast())
        var cr = [Int32](repeating: 0, count: nnz)
        var tf = [Int32](repeating: 0, count: nnz)
        var tp = [Int32](repeating: 0, count: nnz)
        for r in 0..<rows {
            for kk in Int(rp[r])..<Int(rp[r + 1]) {
                let c = Int(cc[kk])
                let slot = Int(next[c])
                cr[slot] = Int32(r); tf[slot] = cf[kk]; tp[slot] = Int32(kk)
                next[c] += 1
            }
        }
        nonzeros = nnz
        csrPtr = rp; csrCol = cc; csrFlat = cf
        cscPtr = cp; cscRow = cr; cscFlat = tf
        cscPosition = tp
    }

    /// The pattern of a mask of rank >= 2 read as `[shape[0], rest]` (a conv weight
    /// `[outC, C, k, k]` as `[outC, C*k*k]`, the layout of its im2col product).
    public static func of(_ mask: Tensor) -> SparsityPattern {
        precondition(mask.rank >= 2, "SparsityPattern needs a mask of rank >= 2, got \(mask.shape)")
        let rows = mask.shape[0]
        return mask.scalars.withUnsafeBufferPointer {
            SparsityPattern(mask: $0, rows: rows, cols: rows == 0 ? 0 : mask.count / rows)
        }
    }
}

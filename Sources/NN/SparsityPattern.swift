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
        // Raw-pointer loops, branch-free where the mask decides (a mask near half density
        // mispredicts every other branch): this runs on the training thread at the first step
        // after every pruning check, while the other workers wait.
        var rp = [Int32](repeating: 0, count: rows + 1)
        var colCount = [Int32](repeating: 0, count: cols + 1)
        var nnz = 0
        let mb = mask.baseAddress  // nil only for an empty mask (rows or cols 0): no entries
        rp.withUnsafeMutableBufferPointer { rp in
            colCount.withUnsafeMutableBufferPointer { cnt in
                for r in 0..<rows {
                    guard let mb else { break }
                    let m = mb + r * cols
                    for c in 0..<cols {
                        let keep = m[c] != 0 ? 1 : 0
                        nnz &+= keep
                        cnt[c + 1] &+= Int32(truncatingIfNeeded: keep)
                    }
                    rp[r + 1] = Int32(truncatingIfNeeded: nnz)
                }
            }
        }
        // one spare slot: the branch-free writes below store at `k` before deciding to keep it
        var cc = [Int32](repeating: 0, count: nnz + 1)
        var cf = [Int32](repeating: 0, count: nnz + 1)
        cc.withUnsafeMutableBufferPointer { cc in
            cf.withUnsafeMutableBufferPointer { cf in
                var k = 0
                for r in 0..<rows {
                    guard let mb else { break }
                    let base = r * cols
                    let m = mb + base
                    for c in 0..<cols {
                        cc[k] = Int32(truncatingIfNeeded: c)
                        cf[k] = Int32(truncatingIfNeeded: base + c)
                        k &+= m[c] != 0 ? 1 : 0
                    }
                }
            }
        }
        cc.removeLast()
        cf.removeLast()
        for c in 0..<cols { colCount[c + 1] += colCount[c] }
        let cp = colCount
        var next = Array(cp.dropLast())
        var cr = [Int32](repeating: 0, count: nnz)
        var tf = [Int32](repeating: 0, count: nnz)
        var tp = [Int32](repeating: 0, count: nnz)
        rp.withUnsafeBufferPointer { rp in
            cc.withUnsafeBufferPointer { cc in
                cf.withUnsafeBufferPointer { cf in
                    next.withUnsafeMutableBufferPointer { next in
                        cr.withUnsafeMutableBufferPointer { cr in
                            tf.withUnsafeMutableBufferPointer { tf in
                                tp.withUnsafeMutableBufferPointer { tp in
                                    for r in 0..<rows {
                                        for kk in Int(rp[r])..<Int(rp[r + 1]) {
                                            let c = Int(cc[kk])
                                            let slot = Int(next[c])
                                            cr[slot] = Int32(truncatingIfNeeded: r)
                                            tf[slot] = cf[kk]
                                            tp[slot] = Int32(truncatingIfNeeded: kk)
                                            next[c] = Int32(truncatingIfNeeded: slot + 1)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
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

/// A batch named by its rows in a larger set, not yet copied: `source` is `[N, ...]` and the
/// batch is `source[rows[0]], source[rows[1]], ...`. A layer that can read the rows where they
/// are (a sparse `Dense` gathers them straight into its transposed input) skips the batch copy;
/// any other calls `materialize()`.
public struct RowGather {
    public let source: Tensor
    public let rows: [Int32]

    public init(source: Tensor, rows: [Int32]) {
        precondition(source.rank >= 1, "RowGather needs a set with a sample dimension, got shape \(source.shape)")
        precondition(source.rows <= Int(Int32.max), "RowGather: \(source.rows) rows do not fit 32-bit indices")
        // checked once here: the gathers (`materialize`, a sparse layer's kernel) read raw memory
        let n = source.rows
        precondition(rows.allSatisfy { $0 >= 0 && Int($0) < n }, "RowGather: a row is outside 0..<\(n)")
        self.source = source
        self.rows = rows
    }

    public init<S: Sequence>(source: Tensor, rows: S) where S.Element == Int {
        self.init(source: source, rows: rows.map { Int32($0) })
    }

    public var count: Int { rows.count }
    /// The batch's shape, `[count, sample...]`.
    public var shape: [Int] { [rows.count] + source.shape.dropFirst() }

    /// The rows copied into a contiguous `[count, sample...]` tensor.
    public func materialize() -> Tensor {
        let size = source.rowSize
        var x = Tensor(uninitializedShape: shape)  // every row is copied in below
        source.scalars.withUnsafeBufferPointer { src in
            x.scalars.withUnsafeMutableBufferPointer { dst in
                for (r, s) in rows.enumerated() {
                    (dst.baseAddress! + r * size).update(from: src.baseAddress! + Int(s) * size, count: size)
                }
            }
        }
        return x
    }
}

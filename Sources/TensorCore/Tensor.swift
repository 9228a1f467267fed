/// A dense, row-major `Float` tensor.
///
/// Storage is a Swift `Array`, so copies are copy-on-write: assigning a tensor is O(1) and the
/// first mutation of a shared buffer copies it. `shape` is outermost-first; element
/// `(i, j)` of a `[rows, cols]` tensor lives at `i * cols + j`.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` whose contents are unspecified: for outputs that are written in full
    /// right away (a zero fill of a multi-megabyte activation costs as much as a pass over it).
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        let n = shape.reduce(1, *)
        self.scalars = [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
    }

    /// A tensor of `shape` over `scalars` (row-major); the counts must agree.
    public init(shape: [Int], scalars: [Float]) {
        precondition(
            shape.reduce(1, *) == scalars.count,
            "shape \(shape) holds \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// Rows of a rank-2 tensor (or the leading dimension).
    public var rows: Int { shape.first ?? 1 }
    /// Elements per leading index.
    public var rowSize: Int { shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *) }

    /// The same scalars viewed under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    public mutating func reshape(_ newShape: [Int]) {
        precondition(
            newShape.reduce(1, *) == scalars.count,
            "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Sets every element to `value` without reallocating when the buffer is unique.
    public mutating func fill(_ value: Float) {
        scalars.withUnsafeMutableBufferPointer { p in
            p.update(repeating: value)
        }
    }

    /// Makes the tensor have `shape`, reusing the buffer when the element count is unchanged.
    /// Contents are unspecified afterwards unless the count was unchanged.
    public mutating func resize(to newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n != scalars.count { scalars = [Float](repeating: 0, count: n) }
        shape = newShape
    }

    public subscript(i: Int, j: Int) -> Float {
        get { scalars[i * shape[1] + j] }
        set { scalars[i * shape[1] + j] = newValue }
    }

    /// Number of elements that are not exactly zero.
    public var nonzeroCount: Int {
        scalars.withUnsafeBufferPointer { p in
            // Eight lanes at a time and branch-free: masks near half density mispredicted the
            // per-entry branch (pruning checks count every layer's mask and weights). NaN counts
            // as nonzero and -0 as zero, as `v != 0` says.
            guard let base = p.baseAddress else { return 0 }
            let raw = UnsafeRawPointer(base)
            var i = 0, n = 0
            while i + 8 <= p.count {
                var lanes = SIMD8<Int32>(repeating: 0)
                let end = min(p.count, i + (1 << 20) * 8)  // lanes hold at most 2^20 counts per round
                while i + 8 <= end {
                    let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    lanes &+= SIMD8<Int32>(repeating: 1).replacing(with: 0, where: v .== 0)
                    i += 8
                }
                n += Int(lanes.wrappedSum())
            }
            while i < p.count {
                n += p[i] != 0 ? 1 : 0
                i += 1
            }
            return n
        }
    }
}

/// Scoped pointers to several buffers at once, for passes that hand many parameters' buffers to
/// the worker team in one job (one hand-off per step instead of one per parameter): each
/// buffer's `withUnsafe...Pointer` scope is nested inside the previous one's, and `body` runs
/// inside all of them.
enum PointerScopes {
    /// A way to reach one buffer for writing: calls its argument with the buffer's pointer.
    typealias MutableAccess = ((UnsafeMutableBufferPointer<Float>) -> Void) -> Void

    /// Calls `body` with the pointers `accesses` give, in order, all valid during `body`.
    static func withMutable(_ accesses: [MutableAccess], _ body: ([UnsafeMutableBufferPointer<Float>]) -> Void) {
        func open(_ i: Int, _ pointers: [UnsafeMutableBufferPointer<Float>]) {
            if i == accesses.count { return body(pointers) }
            let access = accesses[i]
            access { open(i + 1, pointers + [$0]) }
        }
        open(0, [])
    }

    /// Calls `body` with read pointers to `arrays`, in order, all valid during `body`.
    static func withReadable<T>(_ arrays: [[T]], _ body: ([UnsafeBufferPointer<T>]) -> Void) {
        func open(_ i: Int, _ pointers: [UnsafeBufferPointer<T>]) {
            if i == arrays.count { return body(pointers) }
            arrays[i].withUnsafeBufferPointer { open(i + 1, pointers + [$0]) }
        }
        open(0, [])
    }
}

import CBLAS
import CAllocator

/// Element-wise kernels on raw buffers, written with explicit SIMD so they vectorize whatever
/// the optimizer decides about a scalar loop (a branchy ReLU loop compiled to scalar code ran
/// at ~2.7 ns per element; these run at memory speed).
public enum Kernels {
    /// `x = max(x, 0)` in place.
    public static func reluForward(_ x: UnsafeMutableBufferPointer<Float>) {
        reluForward(UnsafeBufferPointer(x), into: x)  // each element is read before it is written
    }

    /// `g = y > 0 ? g : 0` in place (ReLU backward from its output `y`).
    public static func reluBackward(_ g: UnsafeMutableBufferPointer<Float>, output y: UnsafeBufferPointer<Float>) {
        reluBackward(UnsafeBufferPointer(g), output: y, into: g)
    }

    /// `y = max(x, 0)` out of place (one pass, where a copy then `reluForward` makes two).
    public static func reluForward(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
        let n = x.count
        precondition(y.count == n, "reluForward: \(n) inputs for \(y.count) outputs")
        guard let xb = x.baseAddress, let yb = y.baseAddress else { return }
        let xraw = UnsafeRawPointer(xb), yraw = UnsafeMutableRawPointer(yb)
        var i = 0
        let zero = SIMD8<Float>(repeating: 0)
        while i + 8 <= n {
            let v = xraw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            yraw.storeBytes(of: v.replacing(with: zero, where: v .< zero), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { yb[i] = max(xb[i], 0); i += 1 }
    }

    /// `dx = dy * 1[y > 0]` out of place.
    public static func reluBackward(
        _ dy: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>
    ) {
        let n = dy.count
        precondition(y.count == n && dx.count == n, "reluBackward: \(n) gradients for \(y.count) outputs")
        guard let gb = dy.baseAddress, let yb = y.baseAddress, let db = dx.baseAddress else { return }
        let graw = UnsafeRawPointer(gb), yraw = UnsafeRawPointer(yb), draw = UnsafeMutableRawPointer(db)
        var i = 0
        let zero = SIMD8<Float>(repeating: 0)
        while i + 8 <= n {
            let gv = graw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let yv = yraw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            draw.storeBytes(of: gv.replacing(with: zero, where: yv .<= zero), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { db[i] = yb[i] <= 0 ? 0 : gb[i]; i += 1 }
    }

    /// `dst[0..<n] = src[0..<n]` for the short runs of im2col (8-24 floats), where a `memmove`
    /// call costs more than the copy. Inlined into the caller.
    @inlinable @inline(__always)
    public static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count n: Int) {
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
        var i = 0
        while i &+ 8 <= n {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self), toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n { dst[i] = src[i]; i &+= 1 }
    }

    /// `dst[0..<n] += src[0..<n]` for the short runs of col2im. Inlined into the caller.
    @inlinable @inline(__always)
    public static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int) {
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
        var i = 0
        while i &+ 8 <= n {
            let v =
                d.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                + s.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            d.storeBytes(of: v, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n { dst[i] += src[i]; i &+= 1 }
    }

    /// `sum(x[0..<n])` with eight partial sums (so it vectorizes; the order differs from a
    /// left-to-right scalar sum only by float rounding).
    @inlinable @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        let r = UnsafeRawPointer(x)
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i &+ 8 <= n {
            acc += r.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        var total = acc.sum()
        while i < n { total += x[i]; i &+= 1 }
        return total
    }

    /// `x *= a` (BLAS `sscal`).
    public static func scale(_ x: UnsafeMutableBufferPointer<Float>, by a: Float) {
        guard let p = x.baseAddress else { return }
        cblas_sscal(Int32(x.count), a, p, 1)
    }

    /// `y += a * x` (BLAS `saxpy`).
    public static func axpy(_ a: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == y.count, "axpy: \(x.count) vs \(y.count) elements")
        guard let px = x.baseAddress, let py = y.baseAddress else { return }
        cblas_saxpy(Int32(x.count), a, px, 1, py, 1)
    }
}

/// Process-wide allocator settings for training.
public enum Allocator {
    /// Keeps glibc from returning large freed blocks to the kernel after every step.
    ///
    /// A training step allocates and frees the same few buffers of 100 KB - 1 MB each time; by
    /// default glibc serves those with fresh `mmap`s (or trims the heap), so every step pays
    /// for the kernel zeroing new pages (~10% of an MNIST epoch). Raising the mmap and trim
    /// thresholds to 256 MiB keeps the pages in the process and reuses them, which is what a
    /// caching allocator (PyTorch's) achieves. Call once at program start.
    public static func retainFreedMemory() {
        _ = prunelab_retain_freed_memory()
    }
}

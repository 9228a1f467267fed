import TensorCore
import NN

/// One fused pass over a layer: counts and sums against the previous record, then stores the
/// current values and mask (1 where `mask` is nil) as the new previous ones.
struct LayerPass {
    var zeros = 0
    var sumAbs = 0.0
    /// Sum of |value - previous| (meaningless at the first record).
    var sumAbsUpdate = 0.0
    /// Entries whose mask differs from the previous one.
    var churn = 0

    init() {}

    /// SIMD8 lanes, partial sums in `Float` per block of 1024 weights, accumulated in `Double`.
    init(
        values v: UnsafeBufferPointer<Float>, previous prev: UnsafeMutableBufferPointer<Float>,
        mask m: UnsafeBufferPointer<Float>?, previousMask pm: UnsafeMutableBufferPointer<Float>
    ) {
        let n = v.count
        precondition(prev.count == n && pm.count == n && (m?.count ?? n) == n, "LayerPass: buffer sizes differ")
        guard n > 0, let vb = v.baseAddress, let pb = prev.baseAddress, let pmb = pm.baseAddress else { return }
        let vr = UnsafeRawPointer(vb), pr = UnsafeMutableRawPointer(pb), pmr = UnsafeMutableRawPointer(pmb)
        let mr = m?.baseAddress.map(UnsafeRawPointer.init)
        typealias V = SIMD8<Float>
        let zero = V(repeating: 0), one = V(repeating: 1)
        let ones = SIMD8<Int32>(repeating: 1), none = SIMD8<Int32>(repeating: 0)
        var zc = SIMD8<Int32>(repeating: 0), cc = SIMD8<Int32>(repeating: 0)
        let block = 1024
        var i = 0
        while i + 8 <= n {
            let end = min(n - (n - i) % 8, i + block)
            var a = zero, u = zero
            while i < end {
                let off = i * 4
                let x = vr.loadUnaligned(fromByteOffset: off, as: V.self)
                let p = pr.loadUnaligned(fromByteOffset: off, as: V.self)
                let d = x - p
                a += x.replacing(with: -x, where: x .< zero)
                u += d.replacing(with: -d, where: d .< zero)
                zc &+= none.replacing(with: ones, where: x .== zero)
                pr.storeBytes(of: x, toByteOffset: off, as: V.self)
                let mv = mr?.loadUnaligned(fromByteOffset: off, as: V.self) ?? one
                let q = pmr.loadUnaligned(fromByteOffset: off, as: V.self)
                cc &+= none.replacing(with: ones, where: mv .!= q)
                pmr.storeBytes(of: mv, toByteOffset: off, as: V.self)
                i += 8
            }
            sumAbs += Double(a.sum())
            sumAbsUpdate += Double(u.sum())
        }
        zeros = Int(zc.wrappedSum())
        churn = Int(cc.wrappedSum())
        while i < n {
            let x = v[i]
            if x == 0 { zeros += 1 }
            sumAbs += Double(abs(x))
            sumAbsUpdate += Double(abs(x - prev[i]))
            prev[i] = x
            let mv = m?[i] ?? 1
            if mv != pm[i] { churn += 1 }
            pm[i] = mv
            i += 1
        }
    }

    /// Entries whose mask is not 0 (all when nil), and those of them with `r2 >= threshold`.
    static func countNearLinear(
        _ r2: UnsafeBufferPointer<Float>, mask m: UnsafeBufferPointer<Float>?,
        threshold: Float
    ) -> (unmasked: Int, near: Int) {
        let n = r2.count
        precondition((m?.count ?? n) == n, "countNearLinear: mask has \(m?.count ?? n) entries for \(n)")
        guard n > 0, let rb = r2.baseAddress else { return (0, 0) }
        typealias V = SIMD8<Float>
        let rr = UnsafeRawPointer(rb), mr = m?.baseAddress.map(UnsafeRawPointer.init)
        let zero = V(repeating: 0), one = V(repeating: 1), t = V(repeating: threshold)
        let ones = SIMD8<Int32>(repeating: 1), none = SIMD8<Int32>(repeating: 0)
        var kept = SIMD8<Int32>(repeating: 0), near = SIMD8<Int32>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let off = i * 4
            let r = rr.loadUnaligned(fromByteOffset: off, as: V.self)
            let mv = mr?.loadUnaligned(fromByteOffset: off, as: V.self) ?? one
            let live = mv .!= zero
            kept &+= none.replacing(with: ones, where: live)
            near &+= none.replacing(with: ones, where: live .& (r .>= t))
            i += 8
        }
        var k = Int(kept.wrappedSum()), c = Int(near.wrappedSum())
        while i < n {
            if (m?[i] ?? 1) != 0 {
                k += 1
                if r2[i] >= threshold { c += 1 }
            }
            i += 1
        }
        return (k, c)
    }
}

/// Runs `body` with the buffer of `array`, or with nil.
@inline(__always)
func withOptionalBuffer<R>(_ array: [Float]?, _ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
    if let array { return array.withUnsafeBufferPointer { body($0) } }
    return body(nil)
}

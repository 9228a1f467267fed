import TensorCore

/// Which weights the trajectory recorder follows (see `TrajectoryRecorder`).
extension TrajectoryRecorder {
    /// One index per stratum of `count` equal-count strata of the weights sorted by |w|
    /// (ties by index), drawn uniformly within the stratum; all indices when `count >= n`.
    static func stratifiedSample(_ w: Tensor, count k: Int, rng: inout RandomSource) -> [Int] {
        let n = w.count
        guard k > 0 else { return [] }
        guard k < n else { return Array(0..<n) }
        let order: [Int] = w.scalars.withUnsafeBufferPointer { v in
            (0..<n).sorted { a, b in
                let x = abs(v[a]), y = abs(v[b])
                return x < y || (x == y && a < b)
            }
        }
        var picked: [Int] = []
        picked.reserveCapacity(k)
        for s in 0..<k {
            let lo = s * n / k, hi = (s + 1) * n / k
            picked.append(order[lo + rng.nextInt(below: hi - lo)])
        }
        return picked.sorted()
    }

    /// `count` distinct indices of `0..<n` uniformly (partial Fisher-Yates); all when `count >= n`.
    static func uniformSample(_ n: Int, count k: Int, rng: inout RandomSource) -> [Int] {
        guard k > 0 else { return [] }
        guard k < n else { return Array(0..<n) }
        var p = Array(0..<n)
        for i in 0..<k { p.swapAt(i, i + rng.nextInt(below: n - i)) }
        return Array(p[0..<k]).sorted()
    }
}

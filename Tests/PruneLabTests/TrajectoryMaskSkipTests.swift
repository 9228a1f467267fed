import Testing
import TensorCore
import Pruning

/// The masked update skips weights that were already masked out: the statistics of weights
/// never masked must equal, bit for bit, those of unmasked tracking of the same values, and
/// masked weights (pruned at different steps, one revived) must read exactly 0.
@Suite struct TrajectoryMaskSkipTests {
    @Test func skippingMaskedWeightsChangesNothing() {
        let n = 64
        var rng = RandomSource(seed: 17)
        let masked = TrajectoryStatistics(count: n, window: 8, horizon: 20)
        let plain = TrajectoryStatistics(count: n, window: 8, horizon: 20)
        var w = (0..<n).map { _ in Float(rng.nextNormal()) }
        var mask = [Float](repeating: 1, count: n)
        for step in stride(from: 10, through: 300, by: 10) {
            for j in 0..<n { w[j] += Float(rng.nextNormal() * 0.05) }
            if step == 50 { for j in 0..<16 { mask[j] = 0 } }
            if step == 120 { for j in 16..<32 { mask[j] = 0 } }
            if step == 200 { mask[3] = 1 }  // a revived weight starts from a reset state
            let v = zip(w, mask).map { $0 * $1 }
            v.withUnsafeBufferPointer { vb in
                mask.withUnsafeBufferPointer { mb in masked.update(values: vb, mask: mb, step: step) }
            }
            w.withUnsafeBufferPointer { plain.update(values: $0, step: step) }
        }
        let a = [
            masked.slope(), masked.rSquared(), masked.straightness(), masked.displacement(),
            masked.pathLength(), masked.signFlipRate(), masked.extrapolated(),
        ]
        let b = [
            plain.slope(), plain.rSquared(), plain.straightness(), plain.displacement(),
            plain.pathLength(), plain.signFlipRate(), plain.extrapolated(),
        ]
        for (x, y) in zip(a, b) {
            #expect(Array(x[32...]) == Array(y[32...]))
            for j in 0..<32 where j != 3 { #expect(x[j] == 0) }
        }
        // the revived weight moved since step 200, so it has statistics again
        #expect(masked.pathLength()[3] > 0)
    }
}

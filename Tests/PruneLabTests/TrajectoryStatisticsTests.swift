import Testing
import TensorCore
import Pruning

/// Every statistic recomputed from a stored history with explicit weights `beta^(T - s_k)`,
/// in Double: the reference the running recurrences must reproduce.
private struct BruteForce {
    var displacement = 0.0, path = 0.0, updateWeight = 0.0, flips = 0.0
    var slope = 0.0, rSquared = 0.0, timeMoment = 0.0, valueMoment = 0.0
    var current = 0.0

    /// `steps[k]`, `values[k]`: the k-th sample of one weight; statistics at the last sample.
    init(steps: [Int], values: [Float], beta: Double) {
        let K = steps.count
        guard K > 0 else { return }
        let T = steps[K - 1]
        let a = steps.map { pow(beta, T - $0) }
        let x = values.map(Double.init)
        current = x[K - 1]
        var lastSign = 0.0
        for k in 1..<max(K, 1) {
            let u = x[k] - x[k - 1]
            displacement += a[k] * u
            path += a[k] * abs(u)
            updateWeight += a[k]
            if u != 0 {
                let s: Double = u > 0 ? 1 : -1
                if lastSign != 0 && lastSign != s { flips += a[k] }
                lastSign = s
            }
        }
        let w = a.reduce(0, +)
        let t = steps.map(Double.init)
        let mt = zip(a, t).map { $0 * $1 }.reduce(0, +) / w
        let mx = zip(a, x).map { $0 * $1 }.reduce(0, +) / w
        var mtt = 0.0, mxx = 0.0, ctx = 0.0
        for k in 0..<K {
            mtt += a[k] * (t[k] - mt) * (t[k] - mt)
            mxx += a[k] * (x[k] - mx) * (x[k] - mx)
            ctx += a[k] * (t[k] - mt) * (x[k] - mx)
        }
        timeMoment = mtt
        valueMoment = mxx
        slope = K >= 2 && mtt > 0 ? ctx / mtt : 0
        rSquared = K >= 3 && mxx > 0 && mtt > 0 ? ctx * ctx / (mtt * mxx) : 0
    }

    var straightness: Double { path > 0 ? abs(displacement) / path : 0 }
    var meanAbsUpdate: Double { updateWeight > 0 ? path / updateWeight : 0 }
    var signFlipRate: Double { updateWeight > 0 ? flips / updateWeight : 0 }
}

/// `beta^e` for an integer e >= 0 (no Foundation in the test target's imports).
private func pow(_ b: Double, _ e: Int) -> Double {
    var r = 1.0
    for _ in 0..<e { r *= b }
    return r
}

/// `|a - b| <= rel * max(|b|, scale)`: relative tolerance, with `scale` the natural size of the
/// quantity (so a statistic that is a near-cancelling sum is judged against its magnitude).
private func close(_ a: Float, _ b: Double, scale: Double, rel: Double = 1e-4) -> Bool {
    abs(Double(a) - b) <= rel * max(abs(b), scale) + 1e-12
}

private func allFinite(_ s: TrajectoryStatistics) -> Bool {
    let arrays = [
        s.displacement(), s.pathLength(), s.straightness(), s.slope(), s.rSquared(),
        s.meanAbsUpdate(), s.signFlipRate(), s.extrapolated(), s.currentValues(),
    ]
    return arrays.allSatisfy { $0.allSatisfy(\.isFinite) }
}

@Suite struct TrajectoryStatisticsTests {
    /// Random trajectories: drifting random walks, some with zero updates (to exercise "last
    /// nonzero sign"), one constant weight. Consecutive steps, or steps with random gaps.
    @Test(arguments: [false, true])
    func runningStatisticsMatchBruteForceOverHistory(withGaps: Bool) {
        var rng = RandomSource(seed: 20_240_611).derived(withGaps ? "gaps" : "consecutive")
        let n = 7, window = 20, horizon = 30, totalCalls = 120
        let stats = TrajectoryStatistics(count: n, window: window, horizon: horizon)
        let beta = 1 - 1 / Double(window)
        #expect(stats.beta == beta)
        let drifts = (0..<n).map { _ in 0.002 * rng.nextNormal() }
        var current = (0..<n).map { _ in Float(0.1 * rng.nextNormal()) }
        current[n - 1] = 0.25  // constant
        var history = [[Float]](repeating: [], count: n)
        var steps: [Int] = []
        var step = 5
        let checkpoints: Set<Int> = [1, 2, 3, 4, 10, 19, 20, 21, 57, 120]
        for call in 1...totalCalls {
            if call > 1 {
                step += withGaps ? 1 + rng.nextInt(below: 3) : 1
                for i in 0..<(n - 1) {
                    let still = i % 3 == 0 && rng.nextUniform() < 0.3
                    if !still { current[i] += Float(drifts[i] + 0.01 * rng.nextNormal()) }
                }
            }
            steps.append(step)
            for i in 0..<n { history[i].append(current[i]) }
            current.withUnsafeBufferPointer { stats.update(values: $0, step: step) }
            #expect(stats.stepsSeen == call)
            #expect(stats.lastStep == step)
            guard checkpoints.contains(call) else { continue }

            let disp = stats.displacement(), path = stats.pathLength()
            let straight = stats.straightness(), slope = stats.slope(), r2 = stats.rSquared()
            let meanAbs = stats.meanAbsUpdate(), flipRate = stats.signFlipRate()
            let ahead = stats.extrapolated(), ahead7 = stats.extrapolated(horizon: 7)
            let heads = stats.headsTowardZero()
            #expect(stats.currentValues() == current)
            for i in 0..<n {
                let ref = BruteForce(steps: steps, values: history[i], beta: beta)
                let slopeScale = ref.timeMoment > 0 ? (ref.valueMoment / ref.timeMoment).squareRoot() : 0
                let ctx = "call \(call) weight \(i)"
                #expect(close(disp[i], ref.displacement, scale: ref.path), "\(ctx): disp \(disp[i]) vs \(ref.displacement)")
                #expect(close(path[i], ref.path, scale: 0), "\(ctx): path \(path[i]) vs \(ref.path)")
                #expect(close(straight[i], ref.straightness, scale: 1), "\(ctx): straightness \(straight[i]) vs \(ref.straightness)")
                #expect(close(slope[i], ref.slope, scale: slopeScale), "\(ctx): slope \(slope[i]) vs \(ref.slope)")
                #expect(close(r2[i], ref.rSquared, scale: 1), "\(ctx): R^2 \(r2[i]) vs \(ref.rSquared)")
                #expect(close(meanAbs[i], ref.meanAbsUpdate, scale: 0), "\(ctx): mean|u| \(meanAbs[i]) vs \(ref.meanAbsUpdate)")
                #expect(close(flipRate[i], ref.signFlipRate, scale: 1), "\(ctx): flip rate \(flipRate[i]) vs \(ref.signFlipRate)")
                let h = Double(horizon)
                #expect(
                    close(ahead[i], ref.current + ref.slope * h, scale: abs(ref.current) + slopeScale * h),
                    "\(ctx): extrapolated \(ahead[i]) vs \(ref.current + ref.slope * h)")
                #expect(close(ahead7[i], ref.current + ref.slope * 7, scale: abs(ref.current) + slopeScale * 7))
                // Only judge the direction where the reference slope is clearly nonzero.
                if abs(ref.slope) > 1e-3 * slopeScale {
                    #expect(heads[i] == (ref.current != 0 && (ref.slope > 0) != (ref.current > 0)), "\(ctx)")
                }
            }
            // The constant weight is exactly still.
            #expect(path[n - 1] == 0 && disp[n - 1] == 0 && slope[n - 1] == 0 && r2[n - 1] == 0)
            #expect(allFinite(stats))
        }
    }

    @Test func linearDriftTowardZeroIsStraightAndCrossesZeroOnTime() {
        // Weight 0: 1 - 0.01 t; weight 1: -0.5 + 0.005 t. After 41 steps (t = 0...40) they
        // are 0.6 and -0.3, so the line reaches 0 in 60 steps for both.
        let stats = TrajectoryStatistics(count: 2, window: 50, horizon: 100)
        for t in 0...40 {
            let v: [Float] = [1 - 0.01 * Float(t), -0.5 + 0.005 * Float(t)]
            v.withUnsafeBufferPointer { stats.update(values: $0, step: t) }
        }
        let slope = stats.slope(), r2 = stats.rSquared(), straight = stats.straightness()
        #expect(abs(slope[0] + 0.01) < 1e-6 && abs(slope[1] - 0.005) < 1e-6, "\(slope)")
        #expect(r2.allSatisfy { abs($0 - 1) < 1e-5 }, "\(r2)")
        #expect(straight.allSatisfy { abs($0 - 1) < 1e-6 }, "\(straight)")
        #expect(stats.headsTowardZero() == [true, true])
        #expect(stats.signFlipRate() == [0, 0])
        let m = stats.meanAbsUpdate()
        #expect(abs(m[0] - 0.01) < 1e-6 && abs(m[1] - 0.005) < 1e-6, "\(m)")
        let at60 = stats.extrapolated(horizon: 60)
        #expect(at60.allSatisfy { abs($0) < 1e-5 }, "\(at60)")
        let before = stats.extrapolated(horizon: 59), after = stats.extrapolated(horizon: 61)
        #expect(before[0] > 0 && after[0] < 0 && before[1] < 0 && after[1] > 0)
        // The default horizon (100) overshoots: 0.6 - 1.0 and -0.3 + 0.5.
        let ahead = stats.extrapolated()
        #expect(abs(ahead[0] + 0.4) < 1e-5 && abs(ahead[1] - 0.2) < 1e-5, "\(ahead)")
    }

    @Test func oscillatingWeightIsCrookedAndFlipsSign() {
        let stats = TrajectoryStatistics(count: 1, window: 50)
        for t in 0..<200 {
            let v: [Float] = [0.1 + (t % 2 == 0 ? 0.01 : -0.01)]
            v.withUnsafeBufferPointer { stats.update(values: $0, step: t) }
        }
        let straight = stats.straightness()[0], flips = stats.signFlipRate()[0]
        #expect(straight < 0.05, "straightness \(straight)")
        #expect(flips > 0.95, "flip rate \(flips)")
        #expect(stats.rSquared()[0] < 0.05)
        #expect(abs(stats.meanAbsUpdate()[0] - 0.02) < 1e-5)
    }

    @Test func linearDriftAwayFromZeroDoesNotHeadTowardZero() {
        let stats = TrajectoryStatistics(count: 2, window: 50, horizon: 100)
        for t in 0..<30 {
            let v: [Float] = [0.2 + 0.01 * Float(t), -0.2 - 0.01 * Float(t)]
            v.withUnsafeBufferPointer { stats.update(values: $0, step: t) }
        }
        #expect(stats.headsTowardZero() == [false, false])
        let ahead = stats.extrapolated(), now = stats.currentValues()
        #expect(ahead[0] > now[0] && ahead[1] < now[1])
        #expect(stats.straightness().allSatisfy { abs($0 - 1) < 1e-6 })
        #expect(stats.rSquared().allSatisfy { abs($0 - 1) < 1e-5 })
    }

    @Test func constantWeightHasNoPathNoStraightnessNoFitAndNoNaN() {
        let stats = TrajectoryStatistics(count: 3, window: 10, horizon: 100)
        let v: [Float] = [0.3, 0, -1e-3]
        for t in 0..<25 {
            v.withUnsafeBufferPointer { stats.update(values: $0, step: t) }
            #expect(allFinite(stats))
            #expect(stats.pathLength() == [0, 0, 0])
            #expect(stats.displacement() == [0, 0, 0])
            #expect(stats.straightness() == [0, 0, 0])
            #expect(stats.rSquared() == [0, 0, 0])
            #expect(stats.slope() == [0, 0, 0])
            #expect(stats.meanAbsUpdate() == [0, 0, 0])
            #expect(stats.signFlipRate() == [0, 0, 0])
            #expect(stats.headsTowardZero() == [false, false, false])
            #expect(stats.extrapolated() == v)
        }
    }

    @Test func fewStepsAndEmptyStateAreFiniteAndZero() {
        let stats = TrajectoryStatistics(count: 2)
        #expect(stats.window == TrajectoryStatistics.defaultWindow && stats.window == 50)
        #expect(stats.horizon == TrajectoryStatistics.defaultHorizon && stats.horizon == 100)
        #expect(stats.stepsSeen == 0 && allFinite(stats))
        #expect(stats.slope() == [0, 0] && stats.headsTowardZero() == [false, false])
        stats.update(Tensor(shape: [2], scalars: [0.5, -0.5]), step: 1)
        #expect(allFinite(stats) && stats.pathLength() == [0, 0] && stats.slope() == [0, 0])
        stats.update(Tensor(shape: [2], scalars: [0.4, -0.4]), step: 2)
        // Two points fit a line exactly, but R^2 is defined as 0 before 3 steps.
        #expect(stats.rSquared() == [0, 0])
        let s = stats.slope()
        #expect(abs(s[0] + 0.1) < 1e-6 && abs(s[1] - 0.1) < 1e-6)
        #expect(stats.headsTowardZero() == [true, true])
        stats.update(Tensor(shape: [2], scalars: [0.3, -0.3]), step: 3)
        #expect(stats.rSquared().allSatisfy { abs($0 - 1) < 1e-5 })

        let empty = TrajectoryStatistics(count: 0)
        empty.update(values: UnsafeBufferPointer(start: nil, count: 0), step: 0)
        #expect(empty.slope().isEmpty && empty.extrapolated().isEmpty && empty.stepsSeen == 1)

        // Window 1 (beta = 0): no memory, no line; still finite.
        let memoryless = TrajectoryStatistics(count: 1, window: 1)
        for t in 0..<5 { memoryless.update(Tensor(shape: [1], scalars: [Float(t)]), step: t) }
        #expect(allFinite(memoryless) && memoryless.slope() == [0] && memoryless.rSquared() == [0])
        #expect(memoryless.pathLength() == [1] && memoryless.straightness() == [1])
    }

    @Test func maskedWeightsReadAllZeros() {
        // Weight 1 drifts, then is pruned at step 20 (value 0, mask 0) and stays pruned.
        let stats = TrajectoryStatistics(count: 3, window: 10)
        var mask = Tensor(shape: [3], repeating: 1)
        for t in 0..<40 {
            if t == 20 { mask.scalars[1] = 0 }
            var v = Tensor(shape: [3], scalars: [0.2 - 0.001 * Float(t), 0.5 - 0.01 * Float(t), 0.1 * Float(t % 2)])
            Tensor.multiplyForTest(&v, mask)
            stats.update(v, mask: mask, step: t)
            #expect(allFinite(stats))
            if t >= 20 {
                #expect(stats.displacement()[1] == 0 && stats.pathLength()[1] == 0)
                #expect(stats.straightness()[1] == 0 && stats.slope()[1] == 0 && stats.rSquared()[1] == 0)
                #expect(stats.meanAbsUpdate()[1] == 0 && stats.signFlipRate()[1] == 0)
                #expect(stats.extrapolated()[1] == 0 && stats.headsTowardZero()[1] == false)
            }
        }
        // Unmasked neighbours are untouched by the reset.
        #expect(stats.headsTowardZero()[0] == true)
        #expect(stats.signFlipRate()[2] > 0.9)
    }

    @Test func tensorAndBufferUpdatesAgree() {
        var rng = RandomSource(seed: 7)
        let a = TrajectoryStatistics(count: 5, window: 8), b = TrajectoryStatistics(count: 5, window: 8)
        for t in 0..<30 {
            let v = (0..<5).map { _ in Float(rng.nextNormal()) }
            a.update(Tensor(shape: [5], scalars: v), step: t)
            v.withUnsafeBufferPointer { b.update(values: $0, step: t) }
        }
        #expect(a.slope() == b.slope() && a.rSquared() == b.rSquared() && a.displacement() == b.displacement())
    }

    /// Not timed: LeNet-300-100's weight count updated 100 times must simply finish.
    @Test func largeParameterUpdatesComplete() {
        let n = 266_200
        let stats = TrajectoryStatistics(count: n)
        var values = (0..<n).map { Float($0 % 97) * 1e-3 - 0.05 }
        for step in 1...100 {
            values.withUnsafeMutableBufferPointer { v in
                for i in 0..<v.count { v[i] += (i + step) % 3 == 0 ? -1e-4 : 2e-4 }
            }
            values.withUnsafeBufferPointer { stats.update(values: $0, step: step) }
        }
        #expect(stats.stepsSeen == 100)
        #expect(stats.slope().count == n && stats.straightness().allSatisfy(\.isFinite))
    }
}

private extension Tensor {
    /// `t *= mask` element-wise (kept local so the test does not depend on NN).
    static func multiplyForTest(_ t: inout Tensor, _ mask: Tensor) {
        for i in 0..<t.count { t.scalars[i] *= mask.scalars[i] }
    }
}

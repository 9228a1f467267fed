import CTrajectoryKernels
import Foundation
import TensorCore

/// Running statistics of each weight's recent trajectory, for one parameter, in O(1) memory
/// per weight.
///
/// Call `update(values:step:)` after every optimizer step with the parameter's values after
/// that step (flat, in the parameter's row-major layout). No history is stored: every
/// statistic is an exponentially weighted sum that is decayed and extended in place.
///
/// **Window W** (default `defaultWindow` = 50) is the effective length of an exponential
/// moving window, not an exact sliding window: a sample that is `a` steps old has weight
/// `beta^a` with `beta = 1 - 1/W`, so the weights sum to at most `1/(1 - beta) = W`. When
/// steps are skipped (`step` jumps by `d > 1`), everything decays by `beta^d`, so weights
/// always depend on the age in optimizer steps, not on the number of calls.
/// **Horizon H** (default `defaultHorizon` = 100) is how many steps ahead `extrapolated()`
/// projects the fitted line.
///
/// With `x_k` the value at step `s_k`, `T` the latest step, `a_k = beta^(T - s_k)`, and
/// `u_k = x_k - x_(k-1)` the update at call k >= 1 (the first call only records a
/// starting point, so it has no update), the recurrences per call (d = step - lastStep) are:
///
///     disp  = beta^d * disp  + u               // = sum_k a_k u_k          (net displacement)
///     path  = beta^d * path  + |u|             // = sum_k a_k |u_k|        (path length)
///     flips = beta^d * flips + [flip]          // flip: u != 0, and the last nonzero update
///                                              //   before it has the opposite sign
///     U     = beta^d * U + 1                   // = sum_{k>=1} a_k  (shared by all weights)
///
/// and for the weighted least-squares line of `x` against the step, weighted (West 1979)
/// Welford updates of means and central co-moments, with time measured relative to the
/// latest step (so `t <= 0` and no sum grows with the step number):
///
///     Wt = beta^d Wt + 1 ;  mt -= d               // shared: weight sum, mean time
///     dt = 0 - mt ;  mt += dt / Wt ;  Mtt = beta^d Mtt + dt (0 - mt)
///     dx = x - mx ;  mx += dx / Wt ;  Mxx = beta^d Mxx + dx (x - mx)
///                                     Ctx = beta^d Ctx + dt (x - mx)
///
/// so that `Mtt = sum_k a_k (t_k - mt)^2`, `Mxx = sum_k a_k (x_k - mx)^2` and
/// `Ctx = sum_k a_k (t_k - mt)(x_k - mx)` exactly in exact arithmetic. The regression
/// moments are kept in `Double`; centring avoids the cancellation of raw sums `S_xx - S_x^2/S_w`,
/// and a constant weight gets `Mxx = Ctx = 0` exactly.
///
/// Derived on demand: straightness `|disp| / path`; slope `Ctx / Mtt`; `R^2 = Ctx^2 / (Mtt Mxx)`;
/// mean |update| `path / U` and sign-flip rate `flips / U` (bias-corrected EMAs: weighted
/// means over the updates seen); extrapolation `w + slope * H`; "heads toward zero" when
/// `w != 0`, `slope != 0` and their signs differ.
///
/// Edge cases: every derived value is finite. Straightness is 0 when `path == 0`; slope is 0
/// before 2 steps or when `Mtt == 0` (W = 1); R^2 is 0 before 3 steps or when `Mxx == 0`;
/// mean |update| and flip rate are 0 before the first update. Values are assumed finite (the
/// training loop stops on a non-finite loss before stepping).
///
/// **Pruned weights.** Pass the parameter's mask to `update(values:mask:step:)`: every entry
/// whose mask is 0 has its state reset to that of a weight that has always been exactly 0,
/// so all its statistics read 0 (slope, R^2, displacement, path, straightness, flip rate,
/// extrapolated value) and it never heads toward zero. Without a mask, a weight stuck at 0
/// is handled like any other: the jump to 0 counts as one update and then decays away.
///
/// Storage (struct-of-arrays): one `[Float]` holding the sections previous value,
/// displacement, path, flips and last nonzero update sign, and one `[Double]` holding the
/// sections mean, `Mxx` and `Ctx`: 44 bytes per weight, whatever W.
public final class TrajectoryStatistics {
    public static let defaultWindow = 50
    public static let defaultHorizon = 100

    /// Weights tracked (the parameter's element count).
    public let count: Int
    /// Effective window length W in steps; `beta = 1 - 1/W`.
    public let window: Int
    /// Default horizon H of `extrapolated()`, in steps.
    public let horizon: Int
    /// Per-step decay `1 - 1/window`.
    public let beta: Double

    /// Calls to `update` so far (samples in the regression; updates are `stepsSeen - 1`).
    public private(set) var stepsSeen = 0
    /// The `step` of the latest update (meaningless while `stepsSeen == 0`).
    public private(set) var lastStep = 0

    // Float sections, each `count` long: previous value, disp, path, flips, last sign.
    private var floats: [Float]
    // Double sections, each `count` long: mean of x, Mxx, Ctx.
    private var doubles: [Double]
    // Shared scalars: weight sums, mean time (relative to lastStep, <= 0), time moment.
    private var updateWeight = 0.0  // U
    private var sampleWeight = 0.0  // Wt
    private var meanTime = 0.0  // mt
    private var timeMoment = 0.0  // Mtt

    private enum F: Int { case value = 0, disp, path, flips, sign }
    private enum D: Int { case mean = 0, mxx, ctx }
    private static let floatSections = 5
    private static let doubleSections = 3

    /// Statistics for `count` weights with effective window `window` (>= 1) and default
    /// horizon `horizon` (>= 0), all state zero.
    public init(
        count: Int, window: Int = TrajectoryStatistics.defaultWindow,
        horizon: Int = TrajectoryStatistics.defaultHorizon
    ) {
        precondition(count >= 0, "TrajectoryStatistics: negative count \(count)")
        precondition(window >= 1, "TrajectoryStatistics: window must be >= 1, got \(window)")
        precondition(horizon >= 0, "TrajectoryStatistics: horizon must be >= 0, got \(horizon)")
        self.count = count
        self.window = window
        self.horizon = horizon
        self.beta = 1 - 1 / Double(window)
        floats = [Float](repeating: 0, count: count * TrajectoryStatistics.floatSections)
        doubles = [Double](repeating: 0, count: count * TrajectoryStatistics.doubleSections)
    }

    /// Saves every statistic bit for bit (checkpoints).
    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/floats", floats)
        archive.set("\(prefix)/doubles", doubles)
        archive.set("\(prefix)/scalars", [updateWeight, sampleWeight, meanTime, timeMoment])
        archive.set("\(prefix)/steps", [Int64(stepsSeen), Int64(lastStep)])
    }

    /// Restores what `save` wrote; throws when the archive does not fit these weights.
    public func restore(from archive: StateArchive, prefix: String) throws {
        let f = try archive.floats("\(prefix)/floats"), d = try archive.doubles("\(prefix)/doubles")
        let sc = try archive.doubles("\(prefix)/scalars"), st = try archive.ints("\(prefix)/steps")
        guard f.count == floats.count, d.count == doubles.count, sc.count == 4, st.count == 2 else {
            throw StateArchiveError.shape(prefix)
        }
        floats = f
        doubles = d
        (updateWeight, sampleWeight, meanTime, timeMoment) = (sc[0], sc[1], sc[2], sc[3])
        (stepsSeen, lastStep) = (Int(st[0]), Int(st[1]))
    }

    /// `beta^d` by repeated squaring (d >= 0).
    private func decay(_ d: Int) -> Double {
        var result = 1.0, base = beta, e = d
        while e > 0 {
            if e & 1 == 1 { result *= base }
            base *= base
            e >>= 1
        }
        return result
    }

    /// Records the weights after optimizer step `step` (strictly increasing across calls).
    /// Entries where `mask` is 0 are reset to the state of an always-zero weight.
    public func update(values: UnsafeBufferPointer<Float>, mask: UnsafeBufferPointer<Float>? = nil, step: Int) {
        precondition(values.count == count, "TrajectoryStatistics.update: \(values.count) values for \(count) weights")
        if let mask {
            precondition(mask.count == count, "TrajectoryStatistics.update: mask has \(mask.count) entries for \(count) weights")
        }
        precondition(
            stepsSeen == 0 || step > lastStep,
            "TrajectoryStatistics.update: step \(step) does not follow step \(lastStep)")
        let first = stepsSeen == 0
        let d = first ? 0 : step - lastStep
        let bd = decay(d)
        let bf = Float(bd)

        // Shared scalars: advance time by d, then add the new sample at relative time 0.
        if !first { updateWeight = bd * updateWeight + 1 }
        sampleWeight = bd * sampleWeight + 1
        meanTime -= Double(d)
        let dt = -meanTime
        meanTime += dt / sampleWeight
        timeMoment = bd * timeMoment + dt * (0 - meanTime)
        let invW = 1 / sampleWeight
        stepsSeen += 1
        lastStep = step

        let n = count
        guard n > 0, let vb = values.baseAddress else { return }
        // The recurrences per entry run in C (AVX-512 / AVX2 / portable; ctrajectorykernels.h
        // says why): `advance1` there is their definition, `entry1` the masked variant.
        let c = pts_step(first: first ? 1 : 0, bf: bf, bd: bd, dt: dt, invW: invW)
        if let mb = mask?.baseAddress {
            var out = lastMaskedOut ?? [UInt8](repeating: 0, count: n)
            lastMaskedOut = nil  // keeps `out` uniquely referenced (no copy on write)
            out.withUnsafeMutableBufferPointer { ob in
                let o = ob.baseAddress!
                withState { s in Self.forEachRange(n) { r in pts_update(s, c, r.lowerBound, r.upperBound, vb, mb, o) } }
            }
            lastMaskedOut = out
            return
        }
        withState { s in Self.forEachRange(n) { r in pts_update(s, c, r.lowerBound, r.upperBound, vb, nil, nil) } }
        lastMaskedOut = nil
    }

    /// Which entries were masked out at the latest masked update (1 = masked out, state zero).
    /// Entries masked out then and now are skipped: their state is already that of an
    /// always-zero weight, so a pruned weight costs one byte read per update instead of 44.
    private var lastMaskedOut: [UInt8]?

    /// Runs `body` over `0..<n` split into contiguous ranges, on up to 4 cores when `n` is
    /// large (weights are independent, so the result is the same bit for bit as one pass; the
    /// update runs on the training thread between steps, while the data-parallel workers are idle).
    private static func forEachRange(_ n: Int, _ body: (Range<Int>) -> Void) {
        ParallelRanges.forEach(count: n, threads: min(4, ProcessInfo.processInfo.activeProcessorCount), body)
    }

    /// The state's sections as the C kernel's struct of arrays (valid inside `body` only).
    private func withState(_ body: (pts_state) -> Void) {
        let n = count
        floats.withUnsafeMutableBufferPointer { fbuf in
            doubles.withUnsafeMutableBufferPointer { dbuf in
                guard let fp = fbuf.baseAddress, let dp = dbuf.baseAddress else { return }
                body(
                    pts_state(
                        prev: fp + F.value.rawValue * n, disp: fp + F.disp.rawValue * n, path: fp + F.path.rawValue * n,
                        flips: fp + F.flips.rawValue * n, sign: fp + F.sign.rawValue * n,
                        mean: dp + D.mean.rawValue * n, mxx: dp + D.mxx.rawValue * n, ctx: dp + D.ctx.rawValue * n))
            }
        }
    }

    /// `update(values:mask:step:)` on a tensor's scalars (and its mask's, if any).
    public func update(_ values: Tensor, mask: Tensor? = nil, step: Int) {
        values.scalars.withUnsafeBufferPointer { v in
            if let mask {
                mask.scalars.withUnsafeBufferPointer { m in update(values: v, mask: m, step: step) }
            } else {
                update(values: v, step: step)
            }
        }
    }

    // MARK: Derived values

    /// Applies `body(i, floats, doubles)` for every weight, collecting the results.
    private func map<R>(_ body: (Int, UnsafePointer<Float>, UnsafePointer<Double>) -> R) -> [R] {
        let n = count
        return floats.withUnsafeBufferPointer { fbuf in
            doubles.withUnsafeBufferPointer { dbuf in
                guard n > 0, let fp = fbuf.baseAddress, let dp = dbuf.baseAddress else { return [] }
                var out: [R] = []
                out.reserveCapacity(n)
                for i in 0..<n { out.append(body(i, fp, dp)) }
                return out
            }
        }
    }

    private func floatSection(_ s: F) -> [Float] {
        Array(floats[(s.rawValue * count)..<((s.rawValue + 1) * count)])
    }

    /// The latest values passed to `update` (0 for masked entries; all 0 before any update).
    public func currentValues() -> [Float] { floatSection(.value) }

    /// Net displacement `disp = sum_k beta^(T - s_k) u_k` (exponentially weighted sum of updates).
    public func displacement() -> [Float] { floatSection(.disp) }

    /// Path length `path = sum_k beta^(T - s_k) |u_k|`.
    public func pathLength() -> [Float] { floatSection(.path) }

    /// `|disp| / path` in [0, 1]: 1 for a monotone trajectory, near 0 for back-and-forth; 0 when
    /// `path == 0` (constant or masked weight, or fewer than 2 steps).
    public func straightness() -> [Float] { withEntries { e in (0..<count).map(e.straightness) } }

    private var slopeDefined: Bool { stepsSeen >= 2 && timeMoment > 0 }

    /// Weighted least-squares slope of the value against the step, `Ctx / Mtt`, in value
    /// units per step; 0 before 2 steps.
    public func slope() -> [Float] {
        let n = count
        guard slopeDefined else { return [Float](repeating: 0, count: n) }
        let inv = 1 / timeMoment
        return map { i, _, d in Float(d[D.ctx.rawValue * n + i] * inv) }
    }

    /// Coefficient of determination of that line, `Ctx^2 / (Mtt Mxx)` in [0, 1]; 0 before
    /// 3 steps or when the weight did not move within the window (`Mxx == 0`).
    public func rSquared() -> [Float] { withEntries { e in (0..<count).map(e.rSquared) } }

    /// The derived values of single entries, for a criterion that needs several of them at
    /// some entries only (one pass over the live weights instead of one array per value over
    /// all of them). The array forms are built from these, so both give the same bits.
    public struct Entries {
        let n: Int
        let f: UnsafeBufferPointer<Float>, d: UnsafeBufferPointer<Double>
        let mtt: Double
        let r2Defined: Bool
        /// Multiplies `Ctx` into the slope times the horizon (0 while the slope is undefined).
        let slopeScale: Double

        /// `rSquared()[i]`.
        @inline(__always) public func rSquared(_ i: Int) -> Float {
            guard r2Defined else { return 0 }
            let vx = d[D.mxx.rawValue * n + i]
            guard vx > 0 else { return 0 }
            let c = d[D.ctx.rawValue * n + i]
            return Float(min(1, c * c / (mtt * vx)))
        }

        /// `straightness()[i]`.
        @inline(__always) public func straightness(_ i: Int) -> Float {
            let p = f[F.path.rawValue * n + i]
            return p > 0 ? min(1, abs(f[F.disp.rawValue * n + i]) / p) : 0
        }

        /// `currentValues()[i]`.
        @inline(__always) public func value(_ i: Int) -> Float { f[F.value.rawValue * n + i] }

        /// `displacement()[i]`.
        @inline(__always) public func displacement(_ i: Int) -> Float { f[F.disp.rawValue * n + i] }

        /// `extrapolated(horizon:)[i]` for the horizon `withEntries` was given.
        @inline(__always) public func extrapolated(_ i: Int) -> Float {
            Float(Double(f[F.value.rawValue * n + i]) + d[D.ctx.rawValue * n + i] * slopeScale)
        }
    }

    /// Runs `body` with the entries' derived values (`horizon`: of `extrapolated`, default
    /// `self.horizon`).
    public func withEntries<R>(horizon: Int? = nil, _ body: (Entries) -> R) -> R {
        let h = Double(horizon ?? self.horizon)
        let slopeScale = slopeDefined ? h / timeMoment : 0
        return floats.withUnsafeBufferPointer { f in
            doubles.withUnsafeBufferPointer { d in
                body(
                    Entries(
                        n: count, f: f, d: d, mtt: timeMoment, r2Defined: stepsSeen >= 3 && timeMoment > 0,
                        slopeScale: slopeScale))
            }
        }
    }

    /// Exponentially weighted mean of `|u|`, `path / U` with `U = sum_{k>=1} beta^(T - s_k)`
    /// (bias-corrected, so it is not pulled toward 0 early on); 0 before the first update.
    public func meanAbsUpdate() -> [Float] {
        let n = count
        guard updateWeight > 0 else { return [Float](repeating: 0, count: n) }
        let inv = Float(1 / updateWeight)
        return map { i, f, _ in f[F.path.rawValue * n + i] * inv }
    }

    /// Exponentially weighted fraction of updates that reversed the sign of the last nonzero
    /// update, `flips / U`, in [0, 1]; zero updates never flip and do not reset the last sign.
    public func signFlipRate() -> [Float] {
        let n = count
        guard updateWeight > 0 else { return [Float](repeating: 0, count: n) }
        let inv = Float(1 / updateWeight)
        return map { i, f, _ in min(1, f[F.flips.rawValue * n + i] * inv) }
    }

    /// The fitted line followed `horizon` steps (default `self.horizon`) past the latest value:
    /// `w + slope * H`, with `w` the latest value (not the line's intercept).
    public func extrapolated(horizon: Int? = nil) -> [Float] {
        withEntries(horizon: horizon) { e in (0..<count).map(e.extrapolated) }
    }

    /// True where the weight is moving toward zero: `w != 0`, `slope != 0` and
    /// `sign(slope) != sign(w)`. A constant, masked or zero weight never heads toward zero.
    public func headsTowardZero() -> [Bool] {
        let n = count
        guard slopeDefined else { return [Bool](repeating: false, count: n) }
        return map { i, f, d in
            let w = f[F.value.rawValue * n + i]
            let c = d[D.ctx.rawValue * n + i]
            return w != 0 && c != 0 && (c > 0) != (w > 0)
        }
    }
}

extension TrajectoryStatistics {
    /// The statistics of the weights at flat `indices` (in that order), as if only they had been
    /// tracked all along: every per-weight section gathered, the shared time sums copied. Used
    /// when units leave a layer during training and its weight becomes a gather of the old one.
    public func gathered(_ indices: [Int]) -> TrajectoryStatistics {
        let out = TrajectoryStatistics(count: indices.count, window: window, horizon: horizon)
        let n = count, m = indices.count
        for s in 0..<Self.floatSections {
            for (j, i) in indices.enumerated() { out.floats[s * m + j] = floats[s * n + i] }
        }
        for s in 0..<Self.doubleSections {
            for (j, i) in indices.enumerated() { out.doubles[s * m + j] = doubles[s * n + i] }
        }
        out.updateWeight = updateWeight
        out.sampleWeight = sampleWeight
        out.meanTime = meanTime
        out.timeMoment = timeMoment
        out.stepsSeen = stepsSeen
        out.lastStep = lastStep
        return out
    }
}

import CSparseKernels
import CTrajectoryKernels
import Testing
import TensorCore
import Pruning

/// The C update behind `TrajectoryStatistics` (AVX-512, AVX2 and portable paths) against the
/// recurrences written out here in Swift, entry by entry, as the type documents them: every path
/// must give the same bits, through zero updates, sign flips, skipped steps, masks that prune,
/// keep pruning and revive entries, and lengths that leave vector tails.
@Suite struct TrajectoryKernelPathTests {
    /// The documented recurrences, scalar, in Float and Double exactly as specified.
    struct Reference {
        let n: Int, beta: Double
        var prev, disp, path, flips, sign: [Float]
        var mean, mxx, ctx: [Double]
        var wt = 0.0, mt = 0.0, seen = 0, last = 0

        init(n: Int, window: Int) {
            self.n = n
            beta = 1 - 1 / Double(window)
            let zf = [Float](repeating: 0, count: n), zd = [Double](repeating: 0, count: n)
            (prev, disp, path, flips, sign) = (zf, zf, zf, zf, zf)
            (mean, mxx, ctx) = (zd, zd, zd)
        }

        mutating func update(_ v: [Float], mask: [Float]?, step: Int) {
            let first = seen == 0
            let d = first ? 0 : step - last
            var bd = 1.0, base = beta, e = d
            while e > 0 {
                if e & 1 == 1 { bd *= base }
                base *= base
                e >>= 1
            }
            let bf = Float(bd)
            wt = bd * wt + 1
            mt -= Double(d)
            let dt = -mt
            mt += dt / wt
            let invW = 1 / wt
            seen += 1
            last = step
            for i in 0..<n {
                if let mask, mask[i] == 0 {
                    (prev[i], disp[i], path[i], flips[i], sign[i]) = (0, 0, 0, 0, 0)
                    (mean[i], mxx[i], ctx[i]) = (0, 0, 0)
                    continue
                }
                if !first {
                    let u = v[i] - prev[i]
                    disp[i] = bf * disp[i] + u
                    path[i] = bf * path[i] + abs(u)
                    var f = bf * flips[i]
                    if u != 0 {
                        let s: Float = u > 0 ? 1 : -1
                        if sign[i] != 0 && sign[i] != s { f += 1 }
                        sign[i] = s
                    }
                    flips[i] = f
                }
                let x = Double(v[i])
                prev[i] = v[i]
                let dx = x - mean[i]
                let m = mean[i] + dx * invW
                mean[i] = m
                mxx[i] = bd * mxx[i] + dx * (x - m)
                ctx[i] = bd * ctx[i] + dt * (x - m)
            }
        }

        var floats: [Float] { prev + disp + path + flips + sign }
        var doubles: [Double] { mean + mxx + ctx }
    }

    @Test(arguments: [3, 2, 0], [false, true])
    func everyPathMatchesTheRecurrencesBitForBit(isa: Int32, masked: Bool) throws {
        psk_force_isa(isa)
        defer { psk_force_isa(-1) }
        let n = 1003  // not a multiple of 16 or 8: vector blocks and scalar tails
        var rng = RandomSource(seed: 99)
        let stats = TrajectoryStatistics(count: n, window: 7, horizon: 30)
        var ref = Reference(n: n, window: 7)
        var w = (0..<n).map { _ in Float(rng.nextNormal()) }
        var mask = [Float](repeating: 1, count: n)
        var step = 0
        for call in 0..<40 {
            step += call % 5 == 0 ? 3 : 1  // skipped steps decay by beta^d
            for j in 0..<n {
                switch j % 4 {
                case 0: break  // a weight that stops moving: zero updates
                case 1: w[j] += Float(rng.nextNormal() * 0.1)
                case 2: w[j] += (call % 2 == 0 ? 0.01 : -0.01)  // flips every call
                default: w[j] += 0.003  // a straight line
                }
            }
            if masked {
                if call == 10 { for j in stride(from: 0, to: n, by: 3) { mask[j] = 0 } }
                if call == 20 { for j in 0..<300 { mask[j] = 0 } }  // whole blocks masked, then skipped
                if call == 30 { for j in stride(from: 0, to: 100, by: 2) { mask[j] = 1 } }  // revived
            }
            let v = zip(w, mask).map { $0 * $1 }
            if masked {
                v.withUnsafeBufferPointer { vb in mask.withUnsafeBufferPointer { stats.update(values: vb, mask: $0, step: step) } }
                ref.update(v, mask: mask, step: step)
            } else {
                v.withUnsafeBufferPointer { stats.update(values: $0, step: step) }
                ref.update(v, mask: nil, step: step)
            }
        }
        let archive = StateArchive()
        stats.save(into: archive, prefix: "s")
        let f = try archive.floats("s/floats"), d = try archive.doubles("s/doubles")
        #expect(f.map(\.bitPattern) == ref.floats.map(\.bitPattern))
        #expect(d.map(\.bitPattern) == ref.doubles.map(\.bitPattern))
        #expect(ref.flips.contains { $0 > 0 } && ref.path.contains { $0 > 0 })  // the cases were exercised
    }

    @Test func theForcedPathIsTheOneThatRuns() {
        let auto = psk_isa()
        psk_force_isa(0)
        #expect(psk_isa() == 0)
        psk_force_isa(2)
        #expect(psk_isa() == min(2, auto == 3 ? 2 : auto))
        psk_force_isa(-1)
        #expect(psk_isa() == auto)
    }
}

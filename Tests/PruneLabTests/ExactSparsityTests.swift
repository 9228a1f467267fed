import Testing
import TensorCore
import NN
import Pruning
import Schema

/// Exact pruned counts: the reference is integer arithmetic on targets written in per
/// hundred-thousand (`n * k / 100_000` with integer division), independent of `ExactCount`.
@Suite struct ExactSparsityTests {
    /// (weights, target as k / 100_000) — LeNet-300-100's fc1 (235,200), primes, tiny layers.
    static let cases: [(n: Int, k: Int)] = [
        (235_200, 70_000), (235_200, 95_000), (235_200, 92_000), (235_200, 92_040), (235_200, 10_000),
        (30_000, 70_000), (1_000, 90_000), (7_919, 70_000), (7_919, 95_000), (104_729, 92_000),
        (65_521, 33_333), (3, 66_667), (1, 50_000), (10, 70_000), (100, 29_000), (0, 50_000),
        (235_200, 0), (235_200, 100_000),
    ]

    static func reference(_ n: Int, _ k: Int) -> Int { n * k / 100_000 }
    static func target(_ k: Int) -> Double { Double(k) / 100_000 }

    @Test func floorAndCeilMatchIntegerArithmetic() {
        for (n, k) in Self.cases {
            let s = Self.target(k)
            #expect(ExactCount.floor(n, times: s) == Self.reference(n, k), "n \(n) s \(s)")
            let exact = (n * k) % 100_000 == 0
            #expect(ExactCount.ceil(n, times: s) == Self.reference(n, k) + (exact ? 0 : 1), "n \(n) s \(s)")
            #expect(ExactCount.kept(n, sparsity: s) == n - Self.reference(n, k))
        }
        // the case ExactCount exists for: 1 - 0.7 is 0.30000000000000004 in binary, the old ceil kept one too many
        #expect(Int((Double(235_200) * (1 - 0.7)).rounded(.up)) == 70_561)
        #expect(ExactCount.floor(235_200, times: 0.7) == 164_640)
        #expect(ExactCount.floor(235_200, times: 0.95) == 223_440)
        #expect(ExactCount.floor(Int(Int32.max) * 4, times: 0.5) == Int(Int32.max) * 2)  // no overflow
        #expect(ExactCount.floor(100, times: -0.5) == 0 && ExactCount.floor(100, times: 1.5) == 100)
    }

    /// MagnitudePruner's `sparsity` rule, one layer, distinct magnitudes: zeros counted in the mask.
    @Test func magnitudePrunerPrunesExactly() {
        for (n, k) in Self.cases where n > 0 && n <= 235_200 {
            let values = (0..<n).map { Float($0 + 1) * (($0 % 2 == 0) ? 1 : -1) }
            let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, n], scalars: values), isPrunable: true)
            let masks = MagnitudePruner(rules: [p.name: .sparsity(Self.target(k))], scope: .layer)
                .masks(for: [p], scores: [MagnitudeScore.scores(p)])
            let pruned = masks[p.name]!.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
            #expect(pruned == Self.reference(n, k), "n \(n) target \(Self.target(k))")
            // the smallest magnitudes went: entries 0..<pruned (|w| = index + 1)
            #expect(masks[p.name]!.scalars.prefix(pruned).allSatisfy { $0 == 0 })
        }
    }

    /// Global scope over two awkward layers: the pooled count is floor(total · s).
    @Test func globalScopeIsExact() {
        let a = Parameter(name: "a.weight", value: Tensor(shape: [1, 7_919], scalars: (0..<7_919).map { Float($0) }), isPrunable: true)
        let b = Parameter(
            name: "b.weight", value: Tensor(shape: [1, 235_200], scalars: (0..<235_200).map { Float($0) + 0.5 }),
            isPrunable: true)
        let masks = MagnitudePruner(rules: [a.name: .sparsity(0.7), b.name: .sparsity(0.7)], scope: .global)
            .masks(for: [a, b], scores: [MagnitudeScore.scores(a), MagnitudeScore.scores(b)])
        let zeros = (masks[a.name]!.scalars + masks[b.name]!.scalars).reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        #expect(zeros == (7_919 + 235_200) * 70 / 100)
    }

    /// The cubic schedule at its end and the init schedule ask for exactly floor(n · s).
    @Test func schedulesRequestExactCounts() throws {
        let context = ScheduleContext(stepsPerEpoch: 10, plannedSteps: 100)
        var settings = try CubicSchedule.Settings.defaults()
        settings.maxPerCheck = 1
        let cubic = try CubicSchedule(settings: settings, context: context)
        let initial = InitSchedule(settings: NoSettings(), context: context)
        for (n, k) in Self.cases {
            let layer = LayerState(name: "fc1", total: n, alive: n, finalTarget: Self.target(k))
            #expect(cubic.request(step: 100, layer: layer).count == Self.reference(n, k), "cubic n \(n) s \(Self.target(k))")
            #expect(initial.request(step: 0, layer: layer).count == Self.reference(n, k), "init n \(n) s \(Self.target(k))")
        }
        // the per-check cap is exact too: floor(235,200 · 0.07) = 16,464 (not 16,463 through 0.07's binary value)
        settings.maxPerCheck = 0.07
        let capped = try CubicSchedule(settings: settings, context: context)
        let layer = LayerState(name: "fc1", total: 235_200, alive: 235_200, finalTarget: 0.9)
        #expect(capped.request(step: 100, layer: layer).count == 235_200 * 7 / 100)
    }
}

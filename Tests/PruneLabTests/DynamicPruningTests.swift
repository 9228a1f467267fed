import Testing
import Foundation
import TensorCore
import NN
import Training
import Pruning
@testable import Experiments

@Suite struct DynamicCriteriaTests {
    /// Three weights end at the same |w| = 0.5: one drifted straight toward zero, one
    /// oscillated, one drifted away from zero. Only the first is flagged and pruned first.
    @Test func linearCriterionPrunesTheWeightHeadingStraightToZero() {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 3], repeating: 0.5), isPrunable: true)
        let tracker = TrajectoryTracker(parameters: [p], window: 20, every: 1, horizon: 50)
        let criterion = LinearCriterion(tracker: tracker, r2Threshold: 0.9, straightnessThreshold: 0.9)
        for t in 0...40 {
            let toward: Float = 1.0 - 0.0125 * Float(t)                 // 1.0 ▶ 0.5
            let oscillating: Float = 0.5 + (t % 2 == 0 ? 0.05 : -0.05)
            let away: Float = 0.1 + 0.01 * Float(t)                      // 0.1 ▶ 0.5
            p.value = Tensor(shape: [1, 3], scalars: [toward, t == 40 ? 0.5 : oscillating, away])
            criterion.observe(step: t, parameters: [p])
        }
        let (flag, predicted) = criterion.flagged(index: 0, parameter: p)
        #expect(flag == [true, false, false])
        #expect(abs(predicted[0] - (0.5 - 0.0125 * 50)) < 1e-3)   // crosses zero within the horizon
        let scores = criterion.scores(index: 0, parameter: p)
        #expect(scores[0] == 0)
        #expect(abs(scores[1] - 0.5) < 1e-6 && abs(scores[2] - 0.5) < 1e-6)
        #expect(Selection.lowest(scores, alive: [true, true, true], count: 1) == [0])
    }

    @Test func stalledCriterionFlagsWeightsThatStoppedMoving() {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 4], repeating: 0), isPrunable: true)
        let criterion = StalledCriterion(tracker: TrajectoryTracker(parameters: [p], window: 10, every: 1, horizon: 10), fraction: 0.1)
        for t in 0...30 {
            let wiggle: Float = t % 2 == 0 ? 0.05 : -0.05
            p.value = Tensor(shape: [1, 4], scalars: [0.9, 0.3 + wiggle, 0.4 - wiggle, 0.5 + wiggle])
            criterion.observe(step: t, parameters: [p])
        }
        let s = criterion.scores(index: 0, parameter: p)
        // the large but frozen weight goes before the small moving ones
        #expect(s[0] < s[1] && s[0] < s[2] && s[0] < s[3])
    }

    @Test func movementScoreAccumulatesMinusWeightTimesGradient() {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [2], scalars: [1, -1]), isPrunable: true)
        let m = MovementCriterion()
        p.grad = Tensor(shape: [2], scalars: [0.5, 0.5])
        m.observe(step: 1, parameters: [p])
        m.observe(step: 2, parameters: [p])
        #expect(m.scores(index: 0, parameter: p) == [-1, 1])
    }

    @Test func cubicScheduleEndpointsAndShape() {
        #expect(cubicSparsity(step: 0, start: 10, end: 110, final: 0.9) == 0)
        #expect(cubicSparsity(step: 110, start: 10, end: 110, final: 0.9) == 0.9)
        #expect(cubicSparsity(step: 500, start: 10, end: 110, final: 0.9) == 0.9)
        #expect(abs(cubicSparsity(step: 60, start: 10, end: 110, final: 0.8) - 0.8 * (1 - 0.125)) < 1e-12)
    }
}

@Suite struct DynamicPrunerTests {
    static func config(_ criterion: String, extra: String = "") throws -> ExperimentConfig {
        try ConfigLoader.decode(Data(EndToEndTests.mnistConfig(#"""
        , "pruning": {"method": "dynamic", "criterion": "\#(criterion)", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8},
          "exclude": ["fc3"], "start": "10it", "end": "60it", "every": "5it", "max_per_check": 0.5,
          "stats_every": "2it", "window": 5, "horizon": "20it"\#(extra)}
        """#, epochs: 2).utf8))
    }

    /// Every criterion reaches exactly its per-layer targets, never exceeds them on the way,
    /// keeps pruned weights and momentum at zero, and saves FLOPs.
    @Test(arguments: ["linear", "stalled", "magnitude", "movement"])
    func targetsReachedNeverExceeded(criterion: String) throws {
        let config = try Self.config(criterion)
        let data = try config.data.load()
        let session = try TrainingSession(config: config, data: data)
        let pruner = try DynamicPruner(config: config.pruning, session: session)
        final class Watch: TrainingObserver {
            var worst = 0.0
            let params: [Parameter]
            init(_ p: [Parameter]) { params = p }
            func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
                worst = max(worst, HanPipeline.sparsity([params[0]]) - 0.9, HanPipeline.sparsity([params[1]]) - 0.8)
                for (i, p) in trainer.model.parameters.enumerated() {
                    guard let m = p.mask else { continue }
                    for j in 0..<m.count where m.scalars[j] == 0 {
                        if p.value.scalars[j] != 0 || trainer.optimizer.velocity[i].scalars[j] != 0 { worst = 1 }
                    }
                }
                return .continue
            }
        }
        let watch = Watch(pruner.pruned)
        session.trainer.observers = [pruner, watch]
        try session.trainer.train(steps: session.plannedSteps)
        #expect(watch.worst <= 0)
        #expect(pruner.pruned.map(\.name) == ["fc1.weight", "fc2.weight"])
        #expect(pruner.pruned[0].value.nonzeroCount == Int((235_200 * 0.1).rounded(.up)))
        #expect(pruner.pruned[1].value.nonzeroCount == 6000)
        #expect(session.model.parameter(named: "fc3.weight")!.mask == nil)
        #expect(session.trainer.flops < session.trainer.denseFLOPs)
        #expect(pruner.events.rows.count > 0)
        let accuracy = session.evaluateTest().accuracy
        #expect(accuracy > 0.7, "\(criterion): \(accuracy)")
    }

    @Test func endAfterTrainingIsAConfigError() throws {
        let config = try Self.config("linear", extra: #", "end": "99ep""#)
        let data = try config.data.load()
        let session = try TrainingSession(config: config, data: data)
        #expect(throws: ConfigError.self) { try DynamicPruner(config: config.pruning, session: session) }
    }
}

@Suite struct CompareTests {
    /// The same base config and seeds give the same comparison.csv, Han's mask has Jaccard 1
    /// with itself, and every method starts from the same initial weights.
    @Test func sameSeedSameComparison() throws {
        let base = try DynamicPrunerTests.config("linear", extra: #", "rule": "sparsity", "rounds": 2, "retrain": "20it""#)
        let a = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)").path
        let b = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let rows = try Compare.run(base: base, seeds: [5], methods: ["han", "gmp", "linear"], outDir: a, force: false)
        try Compare.run(base: base, seeds: [5], methods: ["han", "gmp", "linear"], outDir: b, force: false)
        let csvA = try String(contentsOfFile: "\(a)/comparison.csv", encoding: .utf8)
        let csvB = try String(contentsOfFile: "\(b)/comparison.csv", encoding: .utf8)
        #expect(csvA == csvB)
        #expect(rows.first { $0.method == "han" }?.values["jaccard_vs_han"] == 1)
        let gmpJ = try #require(rows.first { $0.method == "gmp" }?.values["jaccard_vs_han"])
        #expect(gmpJ > 0 && gmpJ < 1)
        #expect(FileManager.default.fileExists(atPath: "\(a)/comparison.md"))
        #expect(FileManager.default.fileExists(atPath: "\(a)/timing.csv"))
        // same initial weights: the dense-equivalent cost of the training phase is identical
        let dense = rows.map { $0.values["dense_train_flops"]! }
        #expect(dense[1] == dense[2])
    }
}

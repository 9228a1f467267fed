import Testing
import Foundation
import Schema
import TensorCore
import NN
import Training
import Pruning
import Datasets
@testable import Experiments
@testable import Sweeps

@Suite struct DynamicCriteriaTests {
    static func context(_ p: [Parameter], seed: UInt64 = 1) -> CriterionContext {
        CriterionContext(parameters: p, stepsPerEpoch: 10, rng: RandomSource(seed: seed))
    }

    static func settings<T: ConfigSection>(_ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// Three weights end at the same |w| = 0.5: one drifted straight toward zero, one
    /// oscillated, one drifted away from zero. Only the first is flagged and pruned first.
    @Test func linearCriterionPrunesTheWeightHeadingStraightToZero() throws {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 3], repeating: 0.5), isPrunable: true)
        let criterion = LinearCriterion(
            settings: try Self.settings(#"{"stats_every": "1it", "window": 20, "horizon": "50it"}"#),
            context: Self.context([p]))
        for t in 0...40 {
            let toward: Float = 1.0 - 0.0125 * Float(t)  // 1.0 ▶ 0.5
            let oscillating: Float = 0.5 + (t % 2 == 0 ? 0.05 : -0.05)
            let away: Float = 0.1 + 0.01 * Float(t)  // 0.1 ▶ 0.5
            p.value = Tensor(shape: [1, 3], scalars: [toward, t == 40 ? 0.5 : oscillating, away])
            criterion.observe(step: t)
        }
        let (flag, predicted) = criterion.flagged(index: 0)
        #expect(flag == [true, false, false])
        #expect(abs(predicted[0] - (0.5 - 0.0125 * 50)) < 1e-3)  // crosses zero within the horizon
        let scores = criterion.scores(index: 0)
        #expect(scores[0] == 0)
        #expect(abs(scores[1] - 0.5) < 1e-6 && abs(scores[2] - 0.5) < 1e-6)
        #expect(Selection.lowest(scores, alive: [true, true, true], count: 1) == [0])
        // finished: flagged and predicted across zero
        #expect(criterion.finished(index: 0) == [true, false, false])
    }

    @Test func stalledCriterionFlagsWeightsThatStoppedMoving() throws {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 4], repeating: 0), isPrunable: true)
        let criterion = StalledCriterion(
            settings: try Self.settings(#"{"stats_every": "1it", "window": 10, "fraction": 0.1}"#),
            context: Self.context([p]))
        for t in 0...30 {
            let wiggle: Float = t % 2 == 0 ? 0.05 : -0.05
            p.value = Tensor(shape: [1, 4], scalars: [0.9, 0.3 + wiggle, 0.4 - wiggle, 0.5 + wiggle])
            criterion.observe(step: t)
        }
        let s = criterion.scores(index: 0)
        // the large but frozen weight goes before the small moving ones
        #expect(s[0] < s[1] && s[0] < s[2] && s[0] < s[3])
        #expect(criterion.finished(index: 0) == [true, false, false, false])
    }

    @Test func movementScoreAccumulatesMinusWeightTimesGradient() {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [2], scalars: [1, -1]), isPrunable: true)
        let m = MovementCriterion(settings: NoSettings(), context: Self.context([p]))
        #expect(m.scores(index: 0) == [1, 1])  // |w| before the first step
        p.grad = Tensor(shape: [2], scalars: [0.5, 0.5])
        m.observe(step: 1)
        m.observe(step: 2)
        #expect(m.scores(index: 0) == [-1, 1])
    }

    /// SNIP on a schedule: |w*g| summed over the steps since the last check, then reset.
    @Test func snipSumsSensitivityBetweenChecks() throws {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [3], scalars: [2, -1, 0.5]), isPrunable: true)
        let c = SNIPCriterion(settings: try Self.settings("{}"), context: Self.context([p]))
        p.grad = Tensor(shape: [3], scalars: [0.1, 1, -4])
        c.observe(step: 1)
        p.grad = Tensor(shape: [3], scalars: [0.3, 0, -4])
        c.observe(step: 2)
        let s = c.scores(index: 0)
        let expected: [Float] = [2 * 0.1 + 2 * 0.3, 1, 4]
        for j in 0..<3 { #expect(abs(s[j] - expected[j]) < 1e-6) }
        #expect(c.report(index: 0, pruned: [0, 1])[0].map { abs($0 - Double(expected[0] + expected[1]) / 2) < 1e-6 } == true)
        c.checkDidEnd()
        #expect(c.scores(index: 0) == [2, 1, 0.5])  // back to |w| until the next step
    }

    /// Random scores: reproducible per seed, fresh at every check, independent of the weights.
    @Test func randomScoresAreSeededAndFresh() {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [100], repeating: 1), isPrunable: true)
        let a = RandomCriterion(settings: NoSettings(), context: Self.context([p], seed: 4))
        let b = RandomCriterion(settings: NoSettings(), context: Self.context([p], seed: 4))
        let first = a.scores(index: 0)
        #expect(first == b.scores(index: 0))
        #expect(first != a.scores(index: 0))
        #expect(Set(first).count > 90 && first.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func cubicScheduleEndpointsAndShape() {
        #expect(cubicSparsity(step: 0, start: 10, end: 110, final: 0.9) == 0)
        #expect(cubicSparsity(step: 110, start: 10, end: 110, final: 0.9) == 0.9)
        #expect(cubicSparsity(step: 500, start: 10, end: 110, final: 0.9) == 0.9)
        #expect(abs(cubicSparsity(step: 60, start: 10, end: 110, final: 0.8) - 0.8 * (1 - 0.125)) < 1e-12)
    }

    @Test func adaptiveScheduleCapsAndKeepsAFloor() throws {
        let s = try AdaptiveSchedule(
            settings: try Self.settings(#"{"start": "10it", "every": "5it", "max_per_check": 0.1, "min_density": 0.05}"#),
            context: ScheduleContext(stepsPerEpoch: 10, plannedSteps: 100))
        #expect(!s.isCheck(step: 5) && s.isCheck(step: 10) && !s.isCheck(step: 12) && s.isCheck(step: 15))
        let r = s.request(step: 10, layer: LayerState(name: "fc1", total: 1000, alive: 1000, finalTarget: 0.9))
        #expect(r.pick == .finished && r.count == 100 && r.target.isNaN)
        #expect(s.request(step: 10, layer: LayerState(name: "fc1", total: 1000, alive: 80, finalTarget: 0.9)).count == 30)
        #expect(s.request(step: 10, layer: LayerState(name: "fc1", total: 1000, alive: 50, finalTarget: 0.9)).count == 0)
    }
}

@Suite struct CriterionRegistryTests {
    /// One vocabulary: no two plug-ins share a name, and none is a key of its section.
    @Test func namesAreUnique() {
        let dynamic = CriterionRegistry.names + ScheduleRegistry.names + ["criterion", "schedule"]
        #expect(Set(dynamic).count == dynamic.count)
        let arms = CriterionRegistry.names + UnitCriterionRegistry.names + MethodRegistry.names
        #expect(Set(arms).count == arms.count)
    }

    /// Every section decodes from `{}` (all keys have defaults) and documents exactly the keys
    /// it encodes, so the generated docs list every key a config.json can hold.
    @Test func everySectionDocumentsEveryKey() throws {
        var sections: [(String, any ConfigSection.Type)] = MethodRegistry.all.map { ($0.name, $0.settingsType) }
        sections += CriterionRegistry.all.map { ($0.name, $0.settingsType) } + ScheduleRegistry.all.map { ($0.name, $0.settingsType) }
        sections += [
            ("training", TrainingConfig.self), ("recording", RecordingConfig.self), ("curve", CurveConfig.self),
            ("schedule", ScheduleConfig.self), ("adam", AdamConfig.self),
        ]
        for (name, type) in sections {
            func keys<T: ConfigSection>(_: T.Type) throws -> Set<String> {
                Set(((try T.defaults().jsonObject()) as? [String: Any] ?? [:]).keys)
            }
            // `dynamic` also encodes its chosen plug-ins' sections, documented by their own tables
            let encoded = try keys(type).subtracting(CriterionRegistry.names + ScheduleRegistry.names)
            let documented = Set(type.keyHelp.map(\.key))
            // optional keys (absent by default) are documented but not encoded
            #expect(encoded.isSubset(of: documented), "\(name): undocumented \(encoded.subtracting(documented))")
            #expect(type.keyHelp.allSatisfy { !$0.help.isEmpty }, "\(name)")
        }
    }

    /// configs/README.md's key tables are the generated ones.
    @Test func configReadmeKeyTablesAreGenerated() throws {
        let readme = try String(contentsOf: TestSupport.root.appendingPathComponent("configs/README.md"), encoding: .utf8)
        let generated = try Catalog.keysMarkdown()
        #expect(
            readme.contains(generated), "configs/README.md differs from `prunelab list keys`; regenerate with scripts/gen-config-docs.sh")
    }
}

@Suite struct DynamicPrunerTests {
    static func config(_ criterion: String, schedule: String = "cubic", extra: String = "", scheduleKeys: String? = nil) throws
        -> ExperimentConfig
    {
        let keys = scheduleKeys ?? #""start": "10it", "end": "60it", "every": "5it", "max_per_check": 0.5"#
        return try ConfigLoader.decode(
            Data(
                EndToEndTests.mnistConfig(
                    #"""
                    , "pruning": {"method": "dynamic", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
                      "dynamic": {"criterion": "\#(criterion)", "schedule": "\#(schedule)", "\#(schedule)": {\#(keys)},
                                  "linear": {"stats_every": "2it", "window": 5, "horizon": "20it"},
                                  "stalled": {"stats_every": "2it", "window": 5}}\#(extra)}
                    """#, epochs: 2
                ).utf8))
    }

    static func method(_ config: ExperimentConfig) throws -> (DynamicMethod, TrainingSession, DataSplit) {
        let data = try config.data.load()
        let session = try TrainingSession(config: config, data: data)
        let run = RunContext(config: config, data: data, session: session, folder: RunFolder(path: "/nonexistent"))
        return (try DynamicMethod(settings: config.pruning.settings.typed(), run: run), session, data)
    }

    /// Watches every step: the worst excess over the per-layer targets, and whether any pruned
    /// weight or its optimizer state is nonzero.
    final class Watch: TrainingObserver {
        var worst = 0.0
        let params: [Parameter]
        init(_ p: [Parameter]) { params = p }
        func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
            worst = max(worst, Parameter.sparsity([params[0]]) - 0.9, Parameter.sparsity([params[1]]) - 0.8)
            let sgd = trainer.optimizer as! SGD
            for (i, p) in trainer.model.parameters.enumerated() {
                guard let m = p.mask else { continue }
                for j in 0..<m.count where m.scalars[j] == 0 {
                    if p.value.scalars[j] != 0 || sgd.velocity[i].scalars[j] != 0 { worst = 1 }
                }
            }
            return .continue
        }
    }

    /// Every criterion reaches exactly its per-layer targets, never exceeds them on the way,
    /// keeps pruned weights and momentum at zero, and saves FLOPs.
    @Test(arguments: CriterionRegistry.names)  // every registered criterion, new ones included
    func targetsReachedNeverExceeded(criterion: String) throws {
        // each criterion on its preferred schedule: the cubic ramp with short keys, any other
        // schedule (`init` for GraSP) with its defaults
        let entry = try #require(CriterionRegistry.entry(named: criterion))
        let schedule = entry.preferredSchedule
        let config = try Self.config(criterion, schedule: schedule, scheduleKeys: schedule == CubicSchedule.name ? nil : "")
        let (method, session, _) = try Self.method(config)
        let watch = Watch(method.pruned)
        let columns = entry.reportColumns
        session.trainer.observers = method.observers + [watch]
        try session.trainer.train(steps: session.plannedSteps)
        #expect(watch.worst <= 0)
        #expect(method.pruned.map(\.name) == ["fc1.weight", "fc2.weight"])
        #expect(method.pruned[0].value.nonzeroCount == Int((235_200 * 0.1).rounded(.up)))
        #expect(method.pruned[1].value.nonzeroCount == 6000)
        #expect(session.model.parameter(named: "fc3.weight")!.mask == nil)
        #expect(session.trainer.flops < session.trainer.denseFLOPs)
        let events = method.pruner.events
        #expect(events.rows.count > 0)
        #expect(Array(events.columns.suffix(columns.count)) == columns)
        let accuracy = session.evaluateTest().accuracy
        // a net pruned before training, or by chance, learns less in two epochs
        let floor = schedule == InitSchedule.name || criterion == RandomCriterion.name ? 0.5 : 0.7
        #expect(accuracy > floor, "\(criterion): \(accuracy)")
    }

    /// The `init` schedule prunes to the target before the first step: SNIP's scores are |w*g|
    /// of the probe batch's mean gradient at the initial weights, recomputed here by hand.
    @Test func snipAtInitializationPrunesBeforeTheFirstStep() throws {
        let config = try Self.config("snip", schedule: "init", scheduleKeys: "")
        let (method, session, data) = try Self.method(config)
        let w0: [Tensor] = method.pruned.map { $0.value }
        // the reference: the same probe batch (the criterion's stream), gradients by the trainer
        var rng = RandomSource(seed: config.seed).derived("criterion.snip")
        let probe = GradientProbe(trainer: session.trainer, images: data.train.images, labels: data.train.labels, pruned: method.pruned)
        let g = probe.gradients(on: probe.probeBatches(1, rng: &rng))
        session.trainer.observers = method.observers
        try session.trainer.train(steps: 1)
        for (k, p) in method.pruned.enumerated() {
            let score = zip(w0[k].scalars, g[k]).map { abs($0 * $1) }
            let keep = Int((Double(score.count) * (k == 0 ? 0.1 : 0.2)).rounded(.up))
            let expected = Set(Selection.lowest(score, alive: [Bool](repeating: true, count: score.count), count: score.count - keep))
            let pruned = Set((0..<score.count).filter { p.keptMask.scalars[$0] == 0 })
            #expect(pruned == expected, "\(p.name)")
        }
        let steps: [String] = method.pruner.events.rows.map { $0[0] }
        #expect(steps == ["0", "0"])
    }

    /// GraSP's Hg: ⟨Hg, v⟩ must equal the derivative of ½‖∇L‖² along v, taken here by a
    /// separate central difference of the gradient norm (not of the gradient).
    @Test func graspHessianGradientProductMatchesTheGradientNormDerivative() throws {
        let config = try Self.config("grasp", schedule: "init", scheduleKeys: "")
        let (method, session, data) = try Self.method(config)
        let params = method.pruned
        let probe = GradientProbe(trainer: session.trainer, images: data.train.images, labels: data.train.labels, pruned: params)
        var rng = RandomSource(seed: 9)
        let batches = probe.probeBatches(2, rng: &rng)
        let criterion = try GraSPCriterion(
            settings: try DynamicCriteriaTests.settings(#"{"batches": 2, "fd_step": 0.001}"#),
            context: CriterionContext(parameters: params, stepsPerEpoch: 10, rng: RandomSource(seed: 9), gradients: probe))
        let w: [Tensor] = params.map { $0.value }
        criterion.prepareAtInitialization()
        let wHg = (0..<params.count).map { criterion.scores(index: $0) }
        // direction v = w (so ⟨Hg, v⟩ = Σ w ⊙ Hg, the sum of GraSP's scores)
        var lhs = 0.0
        for s in wHg { for x in s { lhs += Double(x) } }
        func halfNormSquared(_ t: Float) -> Double {
            for (k, p) in params.enumerated() { p.value = Tensor(shape: w[k].shape, scalars: w[k].scalars.map { $0 * (1 + t) }) }
            defer { for (k, p) in params.enumerated() { p.value = w[k] } }
            var sum = 0.0
            for g in probe.gradients(on: batches) { for x in g { sum += 0.5 * Double(x) * Double(x) } }
            return sum
        }
        let h: Float = 1e-2
        let rhs = (halfNormSquared(h) - halfNormSquared(-h)) / (2 * Double(h))
        #expect(abs(lhs - rhs) <= 0.05 * abs(rhs) + 1e-6, "⟨Hg, w⟩ \(lhs) vs d/dt ½‖g‖² \(rhs)")
        #expect(params.indices.allSatisfy { params[$0].value == w[$0] })  // weights restored exactly
    }

    /// The adaptive schedule has no target: sparsity is an outcome, every check stays within
    /// its cap, and what it pruned was finished when it was pruned.
    @Test func adaptiveScheduleSparsityIsAnOutcome() throws {
        let config = try Self.config(
            "linear", schedule: "adaptive",
            scheduleKeys: #""start": "10it", "every": "5it", "max_per_check": 0.05, "min_density": 0.5"#)
        let (method, session, _) = try Self.method(config)
        session.trainer.observers = method.observers
        try session.trainer.train(steps: session.plannedSteps)
        let rows = method.pruner.events.rows
        #expect(!rows.isEmpty)
        let col = method.pruner.events.columns.firstIndex(of: "pruned")!
        #expect(rows.allSatisfy { Int($0[col])! <= Int(235_200 * 0.05) })
        let s0 = Parameter.sparsity([method.pruned[0]])
        #expect(s0 > 0 && s0 <= 0.5)
    }

    @Test func endAfterTrainingIsAConfigError() throws {
        let config = try Self.config("linear", scheduleKeys: #""end": "99ep""#)
        let expected = ConfigError(
            path: "pruning.dynamic.cubic.end", #"99ep is after the end of training (80 steps); give at most "80it" or "2ep""#)
        #expect(throws: expected) {
            _ = try Self.method(config)
        }
    }
}

@Suite struct CompareTests {
    static func base() throws -> ConfigDocument {
        try ConfigLoader.document(
            EndToEndTests.mnistConfig(
                #"""
                , "pruning": {"layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
                  "han": {"rule": "sparsity", "rounds": 2, "retrain": "20it"},
                  "dynamic": {"cubic": {"start": "10it", "end": "60it", "every": "5it", "max_per_check": 0.5}}}
                """#, epochs: 2
            ).data(using: .utf8)!, overrides: [])
    }

    /// The same base config and seeds give the same comparison.csv, Han's mask has Jaccard 1
    /// with itself, and every arm starts from the same initial weights.
    @Test func sameSeedSameComparison() throws {
        let base = try Self.base()
        let a = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)").path
        let b = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let arms = ["han", "magnitude", "linear", "linear/adaptive"]
        let rows = try Compare.run(base: base, seeds: [5], methods: arms, outDir: a, force: false)
        try Compare.run(base: base, seeds: [5], methods: arms, outDir: b, force: false)
        let csvA = try String(contentsOfFile: "\(a)/comparison.csv", encoding: .utf8)
        let csvB = try String(contentsOfFile: "\(b)/comparison.csv", encoding: .utf8)
        #expect(csvA == csvB)
        let names: [String] = rows.map { $0.method }
        #expect(names == arms)
        #expect(rows.first { $0.method == "han" }?.values["jaccard_vs_han"] == 1)
        let gmpJ = try #require(rows.first { $0.method == "magnitude" }?.values["jaccard_vs_han"])
        #expect(gmpJ > 0 && gmpJ < 1)
        #expect(FileManager.default.fileExists(atPath: "\(a)/linear-adaptive-seed5/summary.csv"))
        #expect(FileManager.default.fileExists(atPath: "\(a)/comparison.md"))
        #expect(FileManager.default.fileExists(atPath: "\(a)/timing.csv"))
    }

    /// Every arm's run begins from the same initial weights and sees the same first batch.
    @Test func everyArmStartsFromTheSameWeights() throws {
        let base = try Self.base()
        let config0 = try ConfigLoader.decode(base)
        var first: [Tensor]?
        for arm in try Compare.arms(for: config0) where !["l1", "fpgm"].contains(arm.name) {
            let c = try Compare.config(base, arm: arm, seed: 5, name: "t")
            let session = try TrainingSession(config: c, data: try c.data.load())
            let w: [Tensor] = session.model.parameters.map { $0.value }
            if let first { #expect(w == first, "\(arm.name)") } else { first = w }
        }
    }

    @Test func unknownOrEmptyArmsAreErrors() throws {
        let base = try Self.base()
        #expect(throws: ConfigError.self) {
            try Compare.run(base: base, seeds: [1], methods: ["gmp"], outDir: "/nonexistent", force: false)
        }
        #expect(throws: ConfigError.self) { try Compare.run(base: base, seeds: [1], methods: [""], outDir: "/nonexistent", force: false) }
    }
}

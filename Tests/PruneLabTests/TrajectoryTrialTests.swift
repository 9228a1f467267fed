import Foundation
import HDF5Support
import NN
import Pruning
import Schema
import TensorCore
import Testing
import Training

@testable import Experiments

/// The trajectory idea's fair trial: the predictability analysis against brute force, the
/// learning-rate-time predictor against the schedule's closed form, the plateau fit on an exact
/// geometric approach, criteria that never decide on an empty window, and extrapolate-and-freeze.
@Suite struct TrajectoryTrialTests {
    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-tt-\(UUID().uuidString)", isDirectory: true)
    }

    // MARK: Predictability against brute force

    /// Top-k membership by brute force: entry i is kept when fewer than k entries beat it
    /// (higher value, or equal value and lower index: `Selection`'s tie-break keeps the lower index).
    static func bruteKept(_ x: [Float], k: Int) -> [Bool] {
        x.indices.map { i in x.indices.filter { j in x[j] > x[i] || (x[j] == x[i] && j < i) }.count < k }
    }

    /// Average ranks by counting, then Pearson's correlation of the ranks, all in Double.
    static func bruteSpearman(_ a: [Float], _ b: [Float]) -> Double {
        func ranks(_ x: [Float]) -> [Double] {
            x.indices.map { i in
                1 + Double(x.filter { $0 < x[i] }.count) + 0.5 * Double(x.filter { $0 == x[i] }.count - 1)
            }
        }
        let ra = ranks(a), rb = ranks(b), n = Double(a.count)
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        let cov = zip(ra, rb).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        let va = ra.map { ($0 - ma) * ($0 - ma) }.reduce(0, +), vb = rb.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)
        return cov / (va * vb).squareRoot()
    }

    /// A hand-built trajectories.h5 (two layers, 9 records of random walks with ties at the
    /// start): the `magnitude` predictor's recall and Spearman ρ at every record equal brute force.
    @Test func recallAndRankCorrelationMatchBruteForce() throws {
        let dir = Self.tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("trajectories.h5")
        var rng = RandomSource(seed: 11)
        let steps = (0..<9).map { $0 * 5 }
        let sizes = ["fc1": 23, "fc2": 7]
        var values: [String: [[Float]]] = [:]
        do {
            let f = try HDF5File(creating: url.path)
            try f.writeDataset("steps", shape: [steps.count], values: steps.map(Int64.init))
            for (name, n) in sizes.sorted(by: { $0.key < $1.key }) {
                var w = (0..<n).map { Float($0 % 3) * 0.1 }  // ties at the first record
                var rows: [[Float]] = []
                for _ in steps {
                    rows.append(w)
                    w = w.map { $0 + Float(rng.nextUniform() - 0.5) * 0.2 }
                }
                values[name] = rows
                try f.createGroup(name)
                try f.writeDataset("\(name)/value", shape: [steps.count, n], values: rows.flatMap { $0 })
                try f.writeDataset("\(name)/grad", shape: [steps.count, n], values: [Float](repeating: 0, count: steps.count * n))
                try f.writeDataset("\(name)/pruned_step", shape: [n], values: [Int64](repeating: -1, count: n))
            }
        }
        let store = try Predictability.Store.read(url)
        let info = Predictability.RunInfo(
            stepsPerEpoch: 10, timeline: LearningRateTimeline(plannedSteps: 40) { _ in 0.1 }, sparsity: { $0 == "fc1" ? 0.7 : 0.5 })
        let rows = try Predictability.analyze(store, info, every: 5, horizons: [Duration(1, .epochs)])
        for (name, n) in sizes {
            let k = ExactCount.kept(n, sparsity: name == "fc1" ? 0.7 : 0.5)
            let final = values[name]!.last!.map(abs)
            let target = Self.bruteKept(final, k: k)
            for (r, step) in steps.enumerated() {
                let now = values[name]![r].map(abs)
                let row = try #require(rows.first { $0.layer == name && $0.step == step && $0.predictor == "magnitude" })
                let hits = zip(Self.bruteKept(now, k: k), target).filter { $0 && $1 }.count
                #expect(row.kept == k && row.weights == n)
                #expect(row.recall == Double(hits) / Double(k), "\(name) step \(step)")
                #expect(abs(row.spearman - Self.bruteSpearman(now, final)) < 1e-12, "\(name) step \(step)")
            }
        }
        // every predictor of the registry that scores from history is reported, and the lines
        let names = Set(rows.map(\.predictor))
        #expect(names == Set(Predictability.predictorNames(horizons: [Duration(1, .epochs)])))
        #expect(names.isSuperset(of: CriterionRegistry.all.filter(\.scoresFromHistory).map(\.name)))
        // at the last record |w| is the final |w|: perfect recall and ρ = 1
        for row in rows where row.step == steps.last! && row.predictor == "magnitude" {
            #expect(row.recall == 1 && abs(row.spearman - 1) < 1e-12)
        }
    }

    /// An `--out` that is a file is one error before any analysis, and the file is left alone.
    @Test func predictabilityRefusesAFileAsItsFolder() throws {
        let dir = Self.tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("notes.txt")
        try Data("mine".utf8).write(to: file)
        let error = #expect(throws: RunError.self) { try PredictabilityReport.prepare(file) }
        #expect(error?.description == "\(file.path): exists and is not a folder; give --out a folder")
        #expect(try String(contentsOf: file, encoding: .utf8) == "mine")
    }

    // MARK: Learning-rate time

    /// sum_{i < t} cos(pi i / T), in closed form.
    static func cosineSum(_ t: Int, _ total: Int) -> Double {
        guard t > 0 else { return 0 }
        let theta = Double.pi / Double(total)
        return sin(Double(t) * theta / 2) * cos(Double(t - 1) * theta / 2) / sin(theta / 2)
    }

    /// L(t) of a cosine schedule from `base` to `minimum` over T steps, in closed form.
    static func cosineElapsed(_ t: Int, total: Int, base: Double, minimum: Double) -> Double {
        Double(t) * (base + minimum) / 2 + (base - minimum) / 2 * cosineSum(t, total)
    }

    /// The timeline sums the cosine schedule as its closed form says, and `lrtime` predicts the
    /// end value of a weight that moves by -c per unit of learning rate exactly: w + (-c) (L(T) - L(t)).
    @Test func learningRateTimePredictorMatchesTheCosineClosedForm() throws {
        let total = 200, base = 0.1, minimum = 0.001
        let schedule = LearningRateSchedule(base: base, kind: .cosine(total: total, minimum: minimum))
        let timeline = LearningRateTimeline(plannedSteps: total) { schedule.learningRate(atStep: $0) }
        for t in [0, 1, 37, 100, 199, 200] {
            let closed = Self.cosineElapsed(t, total: total, base: base, minimum: minimum)
            #expect(abs(timeline.elapsed(t) - closed) < 1e-12 * Double(total), "L(\(t))")
        }
        #expect(
            abs(
                timeline.remaining(after: 50)
                    - (Self.cosineElapsed(total, total: total, base: base, minimum: minimum)
                        - Self.cosineElapsed(50, total: total, base: base, minimum: minimum))) < 1e-10)
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 2], repeating: 0), isPrunable: true)
        let criterion = LRTimeCriterion(
            settings: try JSONDecoder().decode(LRTimeCriterion.Settings.self, from: Data(#"{"stats_every": "5it", "window": 4}"#.utf8)),
            context: CriterionContext(parameters: [p], stepsPerEpoch: 20, rng: RandomSource(seed: 1), timeline: timeline))
        #expect(criterion.trajectoryWindow == TrajectoryWindow(records: 0, needed: 2, full: 4))
        let c: [Double] = [0.8, -0.3]
        for step in stride(from: 5, through: 60, by: 5) {
            p.value = Tensor(shape: [1, 2], scalars: c.map { Float(0.5 - $0 * timeline.elapsed(step)) })
            criterion.observe(step: step)
        }
        let predicted = criterion.predicted(index: 0)
        let end = Self.cosineElapsed(total, total: total, base: base, minimum: minimum)
        for j in 0..<2 {
            #expect(abs(Double(predicted[j]) - (0.5 - c[j] * end)) < 1e-4, "weight \(j): \(predicted[j])")
        }
        #expect(criterion.scores(index: 0) == predicted.map(abs))
    }

    /// Weights approaching a plateau geometrically (w_k = P - A r^k) are predicted at P; one
    /// whose updates alternate in sign is scored by its current |w| and counted as magnitude.
    @Test func plateauFitFindsAGeometricApproach() throws {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [1, 3], repeating: 0), isPrunable: true)
        let criterion = PlateauCriterion(
            settings: try JSONDecoder().decode(PlateauCriterion.Settings.self, from: Data(#"{"stats_every": "1it", "window": 10}"#.utf8)),
            context: CriterionContext(parameters: [p], stepsPerEpoch: 10, rng: RandomSource(seed: 1)))
        let plateaus: [Float] = [0.05, -0.4], amplitude: [Float] = [0.5, -0.3], ratio: Float = 0.8
        for k in 1...12 {
            let r = pow(ratio, Float(k))
            p.value = Tensor(
                shape: [1, 3], scalars: [plateaus[0] - amplitude[0] * r, plateaus[1] - amplitude[1] * r, k % 2 == 0 ? 0.3 : 0.2])
            criterion.observe(step: k)
        }
        let (values, fitted) = criterion.plateau(index: 0)
        #expect(fitted == [true, true, false])
        #expect(abs(values[0] - plateaus[0]) < 1e-4 && abs(values[1] - plateaus[1]) < 1e-4)
        #expect(values[2] == p.value.scalars[2])
        #expect(criterion.chosenByTrajectory(index: 0, pruned: [0, 2]) == 1)
        #expect(abs(criterion.ratios(index: 0)[0] - ratio) < 1e-4)
    }

    // MARK: No decision without a trajectory

    /// With statistics every 100 steps, the checks at steps 50 and 100 find fewer than three
    /// records: they prune nothing, say so in events.csv and warn once; the first check that
    /// prunes splits its picks into trajectory and magnitude counts that add up.
    @Test func linearPrunesNothingOnAnEmptyWindowAndReportsItsSplit() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try RunFolderTests.config(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
              "dynamic": {"criterion": "linear", "cubic": {"start": "0it", "end": "60it", "every": "10it", "max_per_check": 0.5},
                          "linear": {"stats_every": "20it", "window": 5, "horizon": "end"}}}
            """#, epochs: 3)
        let outcome = try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        let rows = try CSVReader.read(dir.appendingPathComponent("events.csv"))
        let head = rows[0]
        let col = { (name: String) in head.firstIndex(of: name)! }
        #expect(head.contains("trajectory_records") && head.contains("by_trajectory") && head.contains("by_magnitude"))
        let body = rows.dropFirst()
        // steps 10 to 50: at most 2 records, fewer than the 3 a line needs
        let early = body.filter { Int($0[col("step")])! < 60 }
        #expect(!early.isEmpty && early.allSatisfy { $0[col("pruned")] == "0" && Int($0[col("trajectory_records")])! < 3 })
        let pruning = body.filter { $0[col("pruned")] != "0" }
        let first = try #require(pruning.first)
        #expect(Int(first[col("trajectory_records")])! >= 3)
        for r in pruning {
            #expect(Int(r[col("by_trajectory")])! + Int(r[col("by_magnitude")])! == Int(r[col("pruned")])!)
        }
        #expect(pruning.contains { Int($0[col("by_magnitude")])! > 0 })
        #expect(outcome.warnings.filter { $0.contains("pruned nothing") }.count == 1)
        // and the run still reaches its target
        let s = try CSVReader.read(dir.appendingPathComponent("summary.csv"))
        #expect(abs(Double(s[1][s[0].firstIndex(of: "pruned_sparsity")!])! - 0.8) < 0.01)
    }

    /// `wait_for_statistics` holds every check until the window is full (5 records).
    @Test func waitForStatisticsHoldsChecksUntilTheWindowIsFull() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try RunFolderTests.config(
            #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.8, "exclude_output": true,
              "dynamic": {"criterion": "lrtime", "wait_for_statistics": true,
                          "cubic": {"start": "0it", "end": "60it", "every": "10it", "max_per_check": 0.5},
                          "lrtime": {"stats_every": "10it", "window": 5}}}
            """#, epochs: 3)
        _ = try Runner.run(config, options: RunOptions(outDir: dir.path, progress: false))
        let rows = try CSVReader.read(dir.appendingPathComponent("events.csv"))
        let col = { (name: String) in rows[0].firstIndex(of: name)! }
        for r in rows.dropFirst() {
            let records = Int(r[col("trajectory_records")])!
            #expect((r[col("pruned")] == "0") == (records < 5), "\(r)")
            if r[col("pruned")] != "0" { #expect(r[col("by_trajectory")] == r[col("pruned")]) }
        }
    }

    // MARK: Extrapolate-and-freeze

    /// A frozen weight keeps its value through dense and live SGD updates, holds no momentum,
    /// gets no weight gradient from the sparse kernels, and leaves the FLOP count.
    @Test func frozenWeightsStayPutAndCostNoGradient() throws {
        var rng = RandomSource(seed: 4)
        let dense = Dense(name: "fc1", inputSize: 6, outputSize: 4)
        dense.weight.value = Tensor(shape: [4, 6], scalars: (0..<24).map { _ in Float(rng.nextUniform() - 0.5) })
        var pruned = Tensor(shape: [4, 6], repeating: 1)
        pruned.scalars[0] = 0  // a mask, so the sparse kernels can run
        dense.weight.setMask(pruned)
        let before = dense.backwardFLOPs(inputShape: [6], needInputGrad: true, activeOnly: true)
        dense.weight.freeze([3, 10], at: [0.25, -0.5])
        #expect(dense.weight.value.scalars[3] == 0.25 && dense.weight.value.scalars[10] == -0.5)
        #expect(dense.weight.trainableCount == 21)
        #expect(before - dense.backwardFLOPs(inputShape: [6], needInputGrad: true, activeOnly: true) == 4)
        #expect(dense.weight.trainablePattern?.nonzeros == 21)
        let sgd = SGD(parameters: [dense.weight, dense.bias], momentum: 0.9, weightDecay: 0.01)
        for policy in [KernelPolicy.dense, .sparse] {
            dense.kernelPolicy = policy
            let x = Tensor(shape: [5, 6], scalars: (0..<30).map { _ in Float(rng.nextUniform()) })
            _ = dense.forward(x, training: true)
            _ = dense.backward(Tensor(shape: [5, 4], repeating: 1), needInputGrad: true)
            if policy == .sparse { #expect(dense.weight.compactGradient.count == 21) }
            sgd.step(learningRate: 0.1)
            #expect(dense.weight.value.scalars[3] == 0.25 && dense.weight.value.scalars[10] == -0.5, "\(policy)")
            #expect(sgd.velocity[0].scalars[3] == 0 && sgd.velocity[0].scalars[10] == 0, "\(policy)")
        }
        // a pruned frozen weight is pruned, not frozen
        var mask = pruned
        mask.scalars[3] = 0
        dense.weight.setMask(mask)
        #expect(dense.weight.frozenIndices == [10] && dense.weight.value.scalars[3] == 0)
    }

    /// A run with freezing writes freeze.csv, counts fewer FLOPs than the same run without,
    /// and its frozen weights end where they were frozen.
    @Test func freezingRunCountsTheWorkItSaves() throws {
        let plain = Self.tempDir(), frozen = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: plain); try? FileManager.default.removeItem(at: frozen) }
        let base = #"""
            , "pruning": {"method": "dynamic", "target_sparsity": 0.0, "dynamic": {"criterion": "magnitude",
              "cubic": {"start": "0it", "end": "60it"}, "freeze": {"enabled": FREEZE, "start": "40it", "every": "20it",
              "r2": 0.5, "stats_every": "2it", "window": 5}}}
            """#
        _ = try Runner.run(
            try RunFolderTests.config(base.replacingOccurrences(of: "FREEZE", with: "false"), epochs: 2),
            options: RunOptions(outDir: plain.path, progress: false))
        _ = try Runner.run(
            try RunFolderTests.config(base.replacingOccurrences(of: "FREEZE", with: "true"), epochs: 2),
            options: RunOptions(outDir: frozen.path, progress: false))
        let events = try CSVReader.read(frozen.appendingPathComponent("freeze.csv"))
        #expect(events.count > 1)
        let number = { (dir: URL, key: String) throws -> Double in
            let s = try CSVReader.read(dir.appendingPathComponent("summary.csv"))
            return Double(s[1][s[0].firstIndex(of: key)!])!
        }
        #expect(try number(frozen, "frozen_weights") > 0)
        #expect(try number(frozen, "train_flops") < number(plain, "train_flops"))
        #expect(try number(plain, "train_flops") == number(frozen, "dense_train_flops"))
    }
}

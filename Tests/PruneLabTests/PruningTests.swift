import Testing
import TensorCore
import NN
import Training
@testable import Pruning

@Suite struct SelectionTests {
    @Test func percentileMatchesNumpyLinearInterpolation() {
        // np.percentile([1, 2, 3, 4], 5) == 1.15; np.percentile([3, 1, 2], 50) == 2
        #expect(abs(Selection.percentile([1, 2, 3, 4], 5)! - 1.15) < 1e-9)
        #expect(Selection.percentile([3, 1, 2], 50) == 2)
        #expect(Selection.percentile([7], 5) == 7)
        #expect(Selection.percentile([], 5) == nil)
        #expect(Selection.percentile([1, 2], 100) == 2)
    }

    @Test func lowestPrunesExactlyKWithPositionTieBreak() {
        let scores: [Float] = [0.5, 0.1, 0.1, 0.9, 0.1, 0.3]
        let alive = [true, true, true, true, true, true]
        #expect(Selection.lowest(scores, alive: alive, count: 2) == [1, 2])
        #expect(Selection.lowest(scores, alive: alive, count: 4).sorted() == [1, 2, 4, 5])
        var dead = alive
        dead[1] = false
        #expect(Selection.lowest(scores, alive: dead, count: 2) == [2, 4])
        #expect(Selection.lowest(scores, alive: dead, count: 99).count == 5)
        #expect(Selection.lowest(scores, alive: alive, count: 0).isEmpty)
    }

    /// The quickselect behind `lowest` against a full sort (brute force), on random keys, on
    /// already sorted and reversed keys (all-equal scores give sorted keys) and tiny arrays.
    @Test func partitionSmallestMatchesSorting() {
        var rng = RandomSource(seed: 7)
        for trial in 0..<300 {
            let n = 1 + rng.nextInt(below: trial < 50 ? 8 : 3000)
            var keys = (0..<n).map { UInt64(rng.nextInt(below: 1 << 20)) << 32 | UInt64($0) }
            if trial % 3 == 1 { keys.sort() }
            if trial % 3 == 2 { keys.sort(by: >) }
            let count = 1 + rng.nextInt(below: n)
            var selected = keys
            Selection.partitionSmallest(&selected, count: count)
            #expect(selected[0..<count].sorted() == Array(keys.sorted()[0..<count]), "n \(n) count \(count)")
            #expect(selected.sorted() == keys.sorted())
        }
    }

    /// Property: for random scores and k, exactly k alive entries go and every kept score is
    /// >= every pruned score.
    @Test func keptScoresDominatePrunedScores() {
        var rng = RandomSource(seed: 21)
        for _ in 0..<200 {
            let n = 1 + rng.nextInt(below: 60)
            let scores = (0..<n).map { _ in Float(rng.nextInt(below: 8)) }  // many ties
            let alive = (0..<n).map { _ in rng.nextUniform() < 0.8 }
            let k = rng.nextInt(below: n + 1)
            let picked = Set(Selection.lowest(scores, alive: alive, count: k))
            #expect(picked.count == min(k, alive.filter { $0 }.count))
            let kept = (0..<n).filter { alive[$0] && !picked.contains($0) }.map { scores[$0] }
            let pruned = picked.map { scores[$0] }
            if let maxPruned = pruned.max(), let minKept = kept.min() { #expect(minKept >= maxPruned) }
        }
    }
}

@Suite struct MagnitudePrunerTests {
    func weight(_ name: String, _ values: [Float]) -> Parameter {
        Parameter(name: name, value: Tensor(shape: [1, values.count], scalars: values), isPrunable: true)
    }

    func prune(_ params: [Parameter], _ rule: ThresholdRule, _ scope: PruningScope = .layer) {
        var rules: [String: ThresholdRule] = [:]
        for p in params { rules[p.name] = rule }
        let masks = MagnitudePruner(rules: rules, scope: scope).masks(for: params, scores: params.map(MagnitudeScore.scores))
        for p in params { p.setMask(masks[p.name]) }
    }

    @Test func sparsityRuleIsExactAndNeverExceeded() {
        var rng = RandomSource(seed: 4)
        let p = weight("fc1.weight", (0..<1000).map { _ in Float(rng.nextNormal()) })
        prune([p], .sparsity(0.37))
        #expect(p.value.nonzeroCount == 630)
        prune([p], .sparsity(0.37))
        #expect(p.value.nonzeroCount == 630)
        prune([p], .sparsity(0.3333))
        #expect(p.value.nonzeroCount == 630)  // masks only shrink
        let q = weight("fc2.weight", (0..<7).map { _ in Float(rng.nextNormal()) })
        prune([q], .sparsity(0.5))
        #expect(q.value.nonzeroCount == 4)  // ceil(7 * 0.5) kept: sparsity 3/7 <= 0.5
    }

    @Test func stdRuleMatchesHandComputation() {
        let values: [Float] = [-2, -1, -0.5, 0.25, 1, 3]
        // population std of the values
        let mean = values.reduce(0, +) / 6
        let sigma = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6).squareRoot()
        let p = weight("fc1.weight", values)
        prune([p], .std(q: 0.5))
        let expectedPruned = values.filter { abs($0) <= 0.5 * sigma }.count
        #expect(p.value.count - p.value.nonzeroCount == expectedPruned)
        #expect(expectedPruned == 2)
    }

    @Test func percentileRuleOnEmptyAndSingleSurvivorLayers() {
        let p = weight("fc1.weight", [0.3, -0.1])
        prune([p], .percentile(5))
        #expect(p.value.scalars == [0.3, 0])  // below 0.1 + 0.05*0.2 -> the smaller goes
        prune([p], .percentile(5))
        #expect(p.value.scalars == [0.3, 0])  // one survivor equals its own percentile: kept
        p.setMask(Tensor(shape: [1, 2], scalars: [0, 0]))
        prune([p], .percentile(5))  // no survivor: nothing to do, no crash
        #expect(p.value.nonzeroCount == 0)
        prune([p], .std(q: 1))
        prune([p], .sparsity(0.9))
        #expect(p.value.nonzeroCount == 0)
    }

    @Test func globalScopePoolsLayers() {
        let a = weight("fc1.weight", [0.1, 0.2, 0.9, 1.0])
        let b = weight("fc2.weight", [0.05, 0.5])
        prune([a, b], .sparsity(0.5), .global)
        #expect(a.value.scalars == [0, 0, 0.9, 1.0])
        #expect(b.value.scalars == [0, 0.5])
    }

    /// The mask invariant through retraining: pruned weights and their momentum stay exactly 0
    /// over real optimizer steps on a real model, and masks only ever shrink across rounds.
    @Test func maskInvariantThroughRetrainingAndMonotoneMasks() throws {
        var rng = RandomSource(seed: 8)
        let model = Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 8, outputSize: 6),
                Activation(name: "act1", kind: .relu),
                Dense(name: "fc2", inputSize: 6, outputSize: 3),
            ],
            inputShape: [8], loss: .softmaxCrossEntropy)
        Initializer.he.initialize(model, rng: &rng)
        let images = Tensor(shape: [64, 8], scalars: (0..<512).map { _ in Float(rng.nextNormal()) })
        let labels = (0..<64).map { _ in rng.nextInt(below: 3) }
        let opt = SGD(parameters: model.parameters, momentum: 0.9)
        let trainer = Trainer(
            model: model, optimizer: opt, schedule: LearningRateSchedule(base: 0.1),
            batcher: Batcher(images: images, labels: labels, batchSize: 16, shuffle: true, rng: rng.derived("d")))
        try trainer.train(steps: 20)
        var previous: [String: [Float]] = [:]
        for round in 1...4 {
            var rules: [String: ThresholdRule] = [:]
            for p in model.prunableParameters { rules[p.name] = .sparsity(0.2 * Double(round)) }
            let masks = MagnitudePruner(rules: rules, scope: .layer)
                .masks(for: model.prunableParameters, scores: model.prunableParameters.map(MagnitudeScore.scores))
            for p in model.prunableParameters { p.setMask(masks[p.name]) }
            opt.applyMasksToState()
            for p in model.prunableParameters {
                let m = p.mask!.scalars
                if let prev = previous[p.name] {
                    for i in 0..<m.count where prev[i] == 0 { #expect(m[i] == 0, "mask of \(p.name) regrew at \(i)") }
                }
                previous[p.name] = m
            }
            try trainer.train(steps: 10)
            for (i, p) in model.parameters.enumerated() where p.isPrunable {
                for j in 0..<p.value.count where p.mask!.scalars[j] == 0 {
                    #expect(p.value.scalars[j] == 0)
                    #expect(opt.velocity[i].scalars[j] == 0)
                }
            }
        }
    }
}

@Suite struct MaskSetTests {
    func model() -> Sequential {
        Sequential(layers: [Dense(name: "fc1", inputSize: 3, outputSize: 2)], inputShape: [3], loss: .softmaxCrossEntropy)
    }

    @Test func validatesNamesShapesValuesAndPrunability() {
        let m = model()
        #expect(throws: PruningError.self) { try MaskSet(["fc9.weight": Tensor(shape: [2, 3], repeating: 1)]).validate(against: m) }
        #expect(throws: PruningError.self) { try MaskSet(["fc1.weight": Tensor(shape: [3, 2], repeating: 1)]).validate(against: m) }
        #expect(throws: PruningError.self) { try MaskSet(["fc1.bias": Tensor(shape: [2], repeating: 1)]).validate(against: m) }
        #expect(throws: PruningError.self) { try MaskSet(["fc1.weight": Tensor(shape: [2, 3], repeating: 0.5)]).validate(against: m) }
        let error = #expect(throws: PruningError.self) {
            try MaskSet(["fc9.weight": Tensor(shape: [2, 3], repeating: 1)]).validate(against: m)
        }
        #expect(error.map { "\($0)".contains("fc9.weight") && "\($0)".contains("fc1.weight, fc1.bias") } == true)
    }

    @Test func installZeroesPrunedWeights() throws {
        let m = model()
        let w = m.parameter(named: "fc1.weight")!
        w.value = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        try MaskSet(["fc1.weight": Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 1, 1])]).install(on: m)
        #expect(w.value.scalars == [1, 0, 3, 0, 5, 6])
        #expect(w.activeCount == 4)
        #expect(MaskSet(of: m, parameters: ["fc1.weight"]).keptCount == 4)
    }
}

@Suite struct SelectionKeyTests {
    /// The key-sort selection against the definition (sort positions by score, ties by
    /// position) on random scores with negatives, duplicates, both zeros and dead entries.
    @Test func keySortMatchesTheDefinition() {
        var rng = RandomSource(seed: 41)
        for trial in 0..<50 {
            let n = 1 + rng.nextInt(below: 300)
            let pool: [Float] = [-2.5, -1, -0.0, 0, 0.25, 1, 3e-8, -3e-8, .infinity, -.infinity]
            let scores = (0..<n).map { _ in rng.nextInt(below: 3) == 0 ? pool[rng.nextInt(below: pool.count)] : Float(rng.nextNormal()) }
            let alive = (0..<n).map { _ in rng.nextInt(below: 5) != 0 }
            let k = rng.nextInt(below: n + 2)
            let reference = Array(
                (0..<n).filter { alive[$0] }
                    .sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                    .prefix(k))
            let got = Selection.lowest(scores, alive: alive, count: k)
            #expect(Set(got) == Set(reference), "trial \(trial)")
            if k < alive.filter({ $0 }).count { #expect(got == reference, "trial \(trial): order") }
        }
    }
}

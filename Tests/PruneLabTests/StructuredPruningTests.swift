import Testing
import Foundation
import TensorCore
import NN
import Pruning
@testable import Experiments

/// Structured (filter / neuron) pruning and compaction, against independent references: a
/// hand-made FPGM example checked with Weiszfeld's geometric median, hand-computed L1 norms and
/// distance sums, and the masked network's own outputs for the compacted one.
@Suite struct StructuredPruningTests {
    /// Six 2-weight filters (`[6, 2, 1, 1]`): five clustered around (3, 3) and one small outlier.
    static let points: [(Float, Float)] = [(4, 3), (3, 3.1), (2, 3), (3, 4), (3, 2), (0.5, 0)]

    func pointLayer() -> UnitLayer {
        let conv = Conv2D(name: "conv1", inChannels: 2, outChannels: 6, kernel: 1)
        conv.weight.value = Tensor(shape: [6, 2, 1, 1], scalars: Self.points.flatMap { [$0.0, $0.1] })
        return UnitLayer(name: "conv1", weight: conv.weight, bias: conv.bias)
    }

    /// Weiszfeld's iteration for the geometric median (the point minimising the summed
    /// Euclidean distance), in Double: an independent reference for FPGM.
    func geometricMedian(_ ps: [(Double, Double)]) -> (Double, Double) {
        var x = ps.reduce((0.0, 0.0)) { ($0.0 + $1.0 / Double(ps.count), $0.1 + $1.1 / Double(ps.count)) }
        for _ in 0..<500 {
            var num = (0.0, 0.0), den = 0.0
            for p in ps {
                let d = max(((p.0 - x.0) * (p.0 - x.0) + (p.1 - x.1) * (p.1 - x.1)).squareRoot(), 1e-12)
                num.0 += p.0 / d; num.1 += p.1 / d; den += 1 / d
            }
            x = (num.0 / den, num.1 / den)
        }
        return x
    }

    @Test func fpgmRemovesTheFilterNearestTheGeometricMedian() {
        let layer = pointLayer()
        let ps = Self.points.map { (Double($0.0), Double($0.1)) }
        let gm = geometricMedian(ps)
        let nearest = ps.indices.min { a, b in
            hypot(ps[a].0 - gm.0, ps[a].1 - gm.1) < hypot(ps[b].0 - gm.0, ps[b].1 - gm.1)
        }!
        #expect(nearest == 1)  // (3, 3.1), although its L1 norm is among the largest
        let kept = StructuredPruning.select(layer, criterion: FPGMUnitCriterion.self, remove: 1)
        #expect(kept == [true, false, true, true, true, true])
        // the score is the summed distance to the others, recomputed here by hand
        let scores = StructuredPruning.scores(layer, criterion: FPGMUnitCriterion.self, alive: [Bool](repeating: true, count: 6))
        for i in 0..<6 {
            let expected = ps.indices.filter { $0 != i }.reduce(0.0) { $0 + hypot(ps[i].0 - ps[$1].0, ps[i].1 - ps[$1].1) }
            #expect(abs(Double(scores[i]) - expected) < 1e-4 * expected, "filter \(i)")
        }
        // L1 removes the smallest filter instead: the outlier, |0.5| + |0| = 0.5
        let l1 = StructuredPruning.scores(layer, criterion: L1UnitCriterion.self, alive: [Bool](repeating: true, count: 6))
        #expect(l1 == ps.map { Float(abs($0.0) + abs($0.1)) })
        #expect(StructuredPruning.select(layer, criterion: L1UnitCriterion.self, remove: 1) == [true, true, true, true, true, false])
    }

    @Test func fpgmIgnoresRemovedFiltersAndKeepsRemovedOnesRemoved() {
        let layer = pointLayer()
        var kept = StructuredPruning.select(layer, criterion: FPGMUnitCriterion.self, remove: 1)
        StructuredPruning.applyMask(layer, kept: kept)
        #expect(layer.keptUnits == kept)
        #expect(layer.weight.value.scalars[2] == 0 && layer.weight.value.scalars[3] == 0)
        // second round among the five survivors: distances to filter 1 no longer count
        let alive = layer.keptUnits
        let ps = Self.points.map { (Double($0.0), Double($0.1)) }
        let expected = (0..<6).map { i -> Double in
            guard alive[i] else { return 0 }
            return (0..<6).filter { $0 != i && alive[$0] }.reduce(0.0) { $0 + hypot(ps[i].0 - ps[$1].0, ps[i].1 - ps[$1].1) }
        }
        let scores = StructuredPruning.scores(layer, criterion: FPGMUnitCriterion.self, alive: alive)
        for i in 0..<6 { #expect(abs(Double(scores[i]) - expected[i]) < 1e-4 * max(expected[i], 1)) }
        let lowest = (0..<6).filter { alive[$0] }.min { expected[$0] < expected[$1] }!
        kept = StructuredPruning.select(layer, criterion: FPGMUnitCriterion.self, remove: 1)
        #expect(kept.filter { !$0 }.count == 2 && !kept[1] && !kept[lowest])
    }

    @Test func removeCountRoundsAndKeepsOne() {
        #expect(StructuredPruning.removeCount(units: 20, ratio: 0.5) == 10)
        #expect(StructuredPruning.removeCount(units: 50, ratio: 0.5) == 25)
        #expect(StructuredPruning.removeCount(units: 3, ratio: 0.5) == 2)
        #expect(StructuredPruning.removeCount(units: 4, ratio: 0.99) == 3)
        #expect(StructuredPruning.removeCount(units: 4, ratio: 0) == 0)
    }

    /// conv(3->6, k3, pad 1) relu pool2, conv(6->8, k3, stride 2) pool, then dense 12 (tanh) and 5.
    func smallConvNet(seed: UInt64, hiddenActivation: String = "tanh") throws -> Sequential {
        let json = """
            {"layers": [
              {"type": "conv", "filters": 6, "kernel": 3, "padding": 1, "activation": "relu"},
              {"type": "pool", "kernel": 2},
              {"type": "conv", "filters": 8, "kernel": 3, "stride": 2},
              {"type": "pool", "kernel": 2, "stride": 1},
              {"type": "dense", "units": 12, "activation": "\(hiddenActivation)"},
              {"type": "dense", "units": 5, "activation": "softmax"}]}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        try config.validate()
        let model = try ModelRegistry.build(config, inputShape: [3, 14, 14], classCount: 5)
        var rng = RandomSource(seed: seed)
        Initializer.he.initialize(model, rng: &rng)
        for p in model.parameters where !p.isPrunable {
            p.value = FiniteDifference.randomTensor(p.value.shape, &rng, scale: 0.3)
        }
        return model
    }

    @Test(arguments: ["l1", "fpgm"])
    func compactedModelGivesTheMaskedModelsOutputs(_ name: String) throws {
        let criterion = try #require(UnitCriterionRegistry.criterion(named: name))
        let model = try smallConvNet(seed: 5)
        #expect(model.layers.map(\.name) == ["conv1", "act1", "pool1", "conv2", "pool2", "flatten1", "fc1", "act5", "fc2"])
        let units = StructuredPruning.unitLayers(model)
        for (layer, remove) in zip(units, [3, 5, 4]) {
            StructuredPruning.applyMask(layer, kept: StructuredPruning.select(layer, criterion: criterion, remove: remove))
        }
        // unstructured sparsity inside a kept unit must survive compaction
        let fc1 = try #require(model.parameter(named: "fc1.weight"))
        var mask = try #require(fc1.mask)
        let firstKept = try #require(units[2].keptUnits.firstIndex(of: true))
        let keptChannel = try #require(units[1].keptUnits.firstIndex(of: true))  // fc1 columns 4c..<4c+4
        mask.scalars[firstKept * fc1.value.rowSize + keptChannel * 4] = 0
        fc1.setMask(mask)

        let result = try Compaction.compact(model)
        let small = result.model
        #expect(result.units.map(\.after) == [3, 3, 8, 5])
        #expect(small.parameter(named: "conv1.weight")?.value.shape == [3, 3, 3, 3])
        #expect(small.parameter(named: "conv2.weight")?.value.shape == [3, 3, 3, 3])
        // conv2's 3 kept channels of 2x2 after the stride-1 pool: 12 of fc1's 32 inputs remain
        #expect(small.parameter(named: "fc1.weight")?.value.shape == [8, 12])
        #expect(small.parameter(named: "fc2.weight")?.value.shape == [5, 8])
        #expect(small.parameter(named: "fc1.weight")?.value.nonzeroCount == 8 * 12 - 1)
        var rng = RandomSource(seed: 6)
        let x = FiniteDifference.randomTensor([7, 3, 14, 14], &rng)
        let a = model.forward(x, training: false), b = small.forward(x, training: false)
        #expect(a.shape == b.shape)
        for i in 0..<a.count {
            #expect(abs(a.scalars[i] - b.scalars[i]) <= 1e-5 * max(1, abs(a.scalars[i])), "logit \(i): \(a.scalars[i]) vs \(b.scalars[i])")
        }
        // and the units really were dead: the masked model's removed conv1 channels output
        // exactly 0 after conv1 and its activation, for every input
        let removed = (0..<units[0].units).filter { !units[0].keptUnits[$0] }
        #expect(removed.count == 3)
        let h = model.layers[1].forward(model.layers[0].forward(x, training: false), training: false)
        let plane = h.count / (h.shape[0] * h.shape[1])
        for n in 0..<h.shape[0] {
            for c in removed {
                let start = (n * h.shape[1] + c) * plane
                #expect(h.scalars[start..<(start + plane)].allSatisfy { $0 == 0 }, "sample \(n) channel \(c)")
            }
        }
    }

    @Test func unitsBeforeASigmoidAreNotRemoved() throws {
        let model = try smallConvNet(seed: 7, hiddenActivation: "sigmoid")
        let fc1 = StructuredPruning.unitLayers(model)[2]
        StructuredPruning.applyMask(fc1, kept: StructuredPruning.select(fc1, criterion: L1UnitCriterion.self, remove: 4))
        // sigmoid(0) = 0.5, not 0: the zeroed neurons still feed fc2, so they stay
        let result = try Compaction.compact(model)
        #expect(result.keptUnits["fc1"]?.count == 12)
        var rng = RandomSource(seed: 8)
        let x = FiniteDifference.randomTensor([3, 3, 14, 14], &rng)
        let a = model.forward(x, training: false), b = result.model.forward(x, training: false)
        for i in 0..<a.count { #expect(abs(a.scalars[i] - b.scalars[i]) <= 1e-5) }
    }

    @Test func softZeroingLeavesUnitsTrainable() {
        let layer = pointLayer()
        layer.bias!.value = Tensor(shape: [6], repeating: 1)
        let kept = StructuredPruning.select(layer, criterion: L1UnitCriterion.self, remove: 2)
        #expect(StructuredPruning.zero(layer, kept: kept) == 2)
        #expect(layer.weight.mask == nil && layer.bias!.mask == nil)
        for u in 0..<6 {
            let zeroed = layer.weight.value.scalars[(2 * u)..<(2 * u + 2)].allSatisfy { $0 == 0 }
            #expect(zeroed == !kept[u])
            #expect((layer.bias!.value.scalars[u] == 0) == !kept[u])
        }
    }
}

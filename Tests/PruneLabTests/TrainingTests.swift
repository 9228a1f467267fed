import Testing
import TensorCore
import NN
import Training

@Suite struct OptimizerTests {
    func param(_ values: [Float], grad: [Float], prunable: Bool = true) -> Parameter {
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [values.count], scalars: values), isPrunable: prunable)
        p.grad = Tensor(shape: [grad.count], scalars: grad)
        return p
    }

    @Test func plainSGDWithWeightDecay() {
        let p = param([1, -2], grad: [0.5, 0.25])
        let opt = SGD(parameters: [p], weightDecay: 0.1)
        opt.step(learningRate: 0.1)
        // w - lr * (g + wd * w)
        #expect(abs(p.value.scalars[0] - (1 - 0.1 * (0.5 + 0.1))) < 1e-6)
        #expect(abs(p.value.scalars[1] - (-2 - 0.1 * (0.25 - 0.2))) < 1e-6)
    }

    @Test func biasesGetNoWeightDecay() {
        let b = param([1], grad: [0], prunable: false)
        SGD(parameters: [b], weightDecay: 0.5).step(learningRate: 0.1)
        #expect(b.value.scalars[0] == 1)
    }

    /// Two steps of heavy-ball and Nesterov momentum against the equations written out by hand.
    @Test(arguments: [false, true])
    func momentumMatchesHandComputation(nesterov: Bool) {
        let p = param([1], grad: [0.5])
        let opt = SGD(parameters: [p], momentum: 0.9, nesterov: nesterov)
        var w = 1.0, v = 0.0
        for g in [0.5, -0.2] {
            p.grad.scalars[0] = Float(g)
            opt.step(learningRate: 0.1)
            v = 0.9 * v + g
            w -= 0.1 * (nesterov ? g + 0.9 * v : v)
            #expect(abs(Double(p.value.scalars[0]) - w) < 1e-6)
        }
    }

    @Test func maskedWeightsAndMomentumStayZero() {
        let p = param([1, 2, 3], grad: [1, 1, 1])
        let opt = SGD(parameters: [p], momentum: 0.9)
        opt.step(learningRate: 0.1)
        p.setMask(Tensor(shape: [3], scalars: [1, 0, 1]))
        opt.applyMasksToState()
        #expect(p.value.scalars[1] == 0 && opt.velocity[0].scalars[1] == 0)
        for _ in 0..<5 {
            p.grad = Tensor(shape: [3], scalars: [0.3, -0.7, 0.2])
            opt.step(learningRate: 0.1)
            #expect(p.value.scalars[1] == 0)
            #expect(opt.velocity[0].scalars[1] == 0)
            #expect(p.value.scalars[0] != 0)
        }
        #expect(p.activeCount == 2)
    }
}

@Suite struct ScheduleTests {
    @Test func cosineEndpointsAndMidpoint() {
        let s = LearningRateSchedule(base: 0.1, kind: .cosine(total: 100, minimum: 0.001))
        #expect(abs(s.learningRate(atStep: 0) - 0.1) < 1e-12)
        #expect(abs(s.learningRate(atStep: 50) - (0.001 + 0.099 / 2)) < 1e-12)
        #expect(s.learningRate(atStep: 100) == 0.001)
        #expect(s.learningRate(atStep: 500) == 0.001)
    }

    @Test func stepDecayAndWarmup() {
        let s = LearningRateSchedule(base: 1, kind: .step(every: 10, gamma: 0.5), warmupSteps: 4)
        #expect(s.learningRate(atStep: 0) == 0.25)
        #expect(s.learningRate(atStep: 3) == 1)
        #expect(s.learningRate(atStep: 9) == 1)
        #expect(s.learningRate(atStep: 10) == 0.5)
        #expect(s.learningRate(atStep: 25) == 0.25)
    }
}

@Suite struct RandomTests {
    @Test func sameSeedSameStreamAndDerivedStreamsDiffer() {
        var a = RandomSource(seed: 42), b = RandomSource(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var d1 = RandomSource(seed: 42).derived("init"), d2 = RandomSource(seed: 42).derived("data")
        #expect(d1.next() != d2.next())
    }

    @Test func permutationIsAPermutation() {
        var r = RandomSource(seed: 3)
        let p = r.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
    }

    @Test func normalMomentsAndUniformRange() {
        var r = RandomSource(seed: 5)
        let xs = (0..<200_000).map { _ in r.nextNormal() }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.02)
        for _ in 0..<10_000 {
            let u = r.nextUniform()
            #expect(u >= 0 && u < 1)
        }
    }
}

@Suite struct BatcherTests {
    @Test func epochCoversEverySampleOnceAndBatchesCopyRows() {
        let n = 10
        let images = Tensor(shape: [n, 2], scalars: (0..<(2 * n)).map(Float.init))
        var b = Batcher(images: images, labels: Array(0..<n), batchSize: 4, shuffle: true, rng: RandomSource(seed: 9))
        #expect(b.batchesPerEpoch == 3)
        let order = b.nextEpochOrder()
        var seen: [Int] = []
        for k in 0..<3 {
            let lo = k * 4, hi = min(n, lo + 4)
            let (x, y) = b.batch(order: order, range: lo..<hi)
            for (r, label) in y.enumerated() {
                #expect(x.scalars[2 * r] == Float(2 * label))
                #expect(x.scalars[2 * r + 1] == Float(2 * label + 1))
            }
            seen += y
        }
        #expect(seen.sorted() == Array(0..<n))
        #expect(b.nextEpochOrder() != order)
    }

    @Test func fullBatchKeepsNaturalOrder() {
        var b = Batcher(images: Tensor(shape: [5, 1]), labels: Array(0..<5), batchSize: 0, shuffle: true, rng: RandomSource(seed: 1))
        #expect(b.isFullBatch && b.batchesPerEpoch == 1)
        #expect(b.nextEpochOrder() == Array(0..<5))
    }
}

@Suite struct TensorTests {
    @Test func matmulAgainstNaiveProduct() {
        var r = RandomSource(seed: 2)
        let a = Tensor(shape: [3, 4], scalars: (0..<12).map { _ in Float(r.nextNormal()) })
        let b = Tensor(shape: [4, 5], scalars: (0..<20).map { _ in Float(r.nextNormal()) })
        let c = Tensor.matmul(a, b)
        let bt = Tensor(shape: [5, 4], scalars: (0..<20).map { b.scalars[($0 % 4) * 5 + $0 / 4] })
        let c2 = Tensor.matmul(a, bt, transB: true)
        for i in 0..<3 {
            for j in 0..<5 {
                var s: Float = 0
                for k in 0..<4 { s += a[i, k] * b[k, j] }
                #expect(abs(c[i, j] - s) < 1e-5)
                #expect(abs(c2[i, j] - s) < 1e-5)
            }
        }
    }
}

@Suite struct DataParallelTests {
    /// Two workers over halves of a batch give the same update as one pass over the whole batch.
    @Test(arguments: [2, 3])
    func splitBatchStepEqualsWholeBatchStep(workers: Int) throws {
        func make() -> (Sequential, Trainer) {
            var rng = RandomSource(seed: 31)
            let model = Sequential(
                layers: [
                    Dense(name: "fc1", inputSize: 12, outputSize: 9),
                    Activation(name: "act1", kind: .relu),
                    Dense(name: "fc2", inputSize: 9, outputSize: 4),
                ],
                inputShape: [12], loss: .softmaxCrossEntropy)
            Initializer.he.initialize(model, rng: &rng)
            let images = Tensor(shape: [37, 12], scalars: (0..<(37 * 12)).map { _ in Float(rng.nextNormal()) })
            let labels = (0..<37).map { _ in rng.nextInt(below: 4) }
            return (
                model,
                Trainer(
                    model: model, optimizer: SGD(parameters: model.parameters, momentum: 0.9),
                    schedule: LearningRateSchedule(base: 0.1),
                    batcher: Batcher(
                        images: images, labels: labels, batchSize: 16, shuffle: true,
                        rng: RandomSource(seed: 2)))
            )
        }
        let (single, t1) = make()
        let (parallel, t2) = make()
        let t2p = Trainer(model: parallel, optimizer: t2.optimizer, schedule: t2.schedule, batcher: t2.batcher, workers: workers)
        try t1.train(steps: 5)
        try t2p.train(steps: 5)
        for (a, b) in zip(single.parameters, parallel.parameters) {
            for i in 0..<a.value.count {
                #expect(abs(a.value.scalars[i] - b.value.scalars[i]) <= 1e-5 + 1e-4 * abs(a.value.scalars[i]), "\(a.name)[\(i)]")
            }
        }
        #expect(t1.flops == t2p.flops)
    }
}

extension DataParallelTests {
    /// Masked layers on the sparse kernels: the reduction sums the live entries only; the
    /// master's gradient is the weighted sum of each part's gradient computed alone (to float
    /// rounding), and exactly 0 at every pruned entry.
    @Test(arguments: [2, 3])
    func sparseReductionEqualsWeightedSumOfParts(workers: Int) throws {
        var rng = RandomSource(seed: 7)
        let fc1 = Dense(name: "fc1", inputSize: 20, outputSize: 16), fc2 = Dense(name: "fc2", inputSize: 16, outputSize: 5)
        let model = Sequential(
            layers: [fc1, Activation(name: "act1", kind: .relu), fc2], inputShape: [20], loss: .softmaxCrossEntropy)
        Initializer.he.initialize(model, rng: &rng)
        for layer in [fc1, fc2] {
            let n = layer.weight.value.count
            layer.weight.setMask(Tensor(shape: layer.weight.value.shape, scalars: (0..<n).map { _ in rng.nextUniform() < 0.3 ? 1 : 0 }))
            layer.kernelPolicy = .sparse
        }
        let sizes = workers == 2 ? [9, 14] : [5, 11, 7]
        let parts = sizes.map { b in Tensor(shape: [b, 20], scalars: (0..<(b * 20)).map { _ in Float(rng.nextNormal()) }) }
        let labels = sizes.map { b in (0..<b).map { _ in rng.nextInt(below: 5) } }
        func pass(_ m: Sequential, _ i: Int) {
            let r = m.loss.evaluate(logits: m.forward(parts[i], training: true), labels: labels[i][...], wantGradient: true)
            m.backward(r.gradient)
        }
        // each part alone on the master: the reference gradients
        var alone: [[[Float]]] = []
        for i in parts.indices {
            pass(model, i)
            alone.append(model.parameters.map(\.grad.scalars))
        }
        let total = Float(sizes.reduce(0, +))
        let weights = sizes.map { Float($0) / total }
        let dp = DataParallel(model: model, workers: workers)
        _ = dp.run(parts: workers) { i, m in pass(m, i) }
        #expect(fc1.weight.gradientPattern === fc1.weight.sparsityPattern && fc2.weight.gradientPattern != nil)
        // the live entries of both weights, every bias entry
        #expect(dp.reduceGradients(weights: weights) == fc1.weight.activeCount + fc2.weight.activeCount + 16 + 5)
        for (pi, p) in model.parameters.enumerated() {
            let mask = p.mask?.scalars
            for j in 0..<p.grad.count {
                var want = alone[0][pi][j] * weights[0]
                for i in 1..<workers { want += weights[i] * alone[i][pi][j] }
                let got = p.grad.scalars[j]
                if let mask, mask[j] == 0 {
                    #expect(got == 0, "\(p.name)[\(j)] pruned")
                } else {
                    #expect(abs(got - want) <= 1e-6 * (1 + abs(want)), "\(p.name)[\(j)]: \(got) vs \(want)")
                }
            }
        }
    }
}

@Suite struct KernelTests {
    @Test func simdReluMatchesScalarReference() {
        var rng = RandomSource(seed: 17)
        for n in [0, 1, 7, 8, 9, 31, 100] {
            let x = (0..<n).map { _ in Float(rng.nextNormal()) }
            var y = x
            y.withUnsafeMutableBufferPointer { Kernels.reluForward($0) }
            #expect(y == x.map { max($0, 0) })
            let g0 = (0..<n).map { _ in Float(rng.nextNormal()) }
            var g = g0
            g.withUnsafeMutableBufferPointer { gp in y.withUnsafeBufferPointer { Kernels.reluBackward(gp, output: $0) } }
            #expect(g == zip(g0, y).map { $1 > 0 ? $0 : 0 })
        }
    }

    @Test func scaleAndAxpy() {
        var y: [Float] = [1, 2, 3]
        y.withUnsafeMutableBufferPointer { Kernels.scale($0, by: 0.5) }
        #expect(y == [0.5, 1, 1.5])
        let x: [Float] = [2, 4, 6]
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { Kernels.axpy(0.25, xp, $0) } }
        #expect(y == [1, 2, 3])
    }
}

@Suite struct EvaluationTests {
    @Test func threadedEvaluationEqualsSerialBitForBit() {
        var rng = RandomSource(seed: 31)
        let model = Sequential(
            layers: [
                Conv2D(name: "conv1", inChannels: 1, outChannels: 3, kernel: 3),
                MaxPool2D(name: "pool1", kernel: 2),
                Flatten(name: "flatten1"),
                Dense(name: "fc1", inputSize: 3 * 3 * 3, outputSize: 4),
            ], inputShape: [1, 8, 8], loss: .softmaxCrossEntropy)
        Initializer.he.initialize(model, rng: &rng)
        let n = 257
        let images = Tensor(shape: [n, 1, 8, 8], scalars: (0..<(n * 64)).map { _ in Float(rng.nextUniform()) })
        let labels = (0..<n).map { _ in rng.nextInt(below: 4) }
        let serial = Evaluation.run(model, images: images, labels: labels, batchSize: 20)
        // the reference: one sample at a time, by hand
        var correct = 0
        for i in 0..<n {
            let x = Tensor(shape: [1, 1, 8, 8], scalars: Array(images.scalars[(i * 64)..<((i + 1) * 64)]))
            let logits = model.forward(x, training: false).scalars
            if logits.indices.max(by: { logits[$0] < logits[$1] }) == labels[i] { correct += 1 }
        }
        #expect(serial.accuracy == Double(correct) / Double(n))
        for workers in [2, 3, 16] {
            #expect(Evaluation.run(model, images: images, labels: labels, batchSize: 20, workers: workers) == serial)
        }
    }
}

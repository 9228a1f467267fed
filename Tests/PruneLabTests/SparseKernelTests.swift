import Testing
import TensorCore
import NN
import Training

/// The sparse kernels of pruned dense layers against independent references: brute-force
/// index structures, the dense SGEMM path on the same masked weights, finite differences, and
/// whole training runs with masks changing mid-way.
@Suite(.serialized) struct SparseKernelTests {
    static func randomMask(rows: Int, cols: Int, density: Double, emptyRows: [Int] = [], rng: inout RandomSource) -> Tensor {
        var m = Tensor(shape: [rows, cols])
        for r in 0..<rows where !emptyRows.contains(r) {
            for c in 0..<cols where rng.nextUniform() < density { m[r, c] = 1 }
        }
        return m
    }

    static func layer(inp: Int, out: Int, rng: inout RandomSource) -> Dense {
        let d = Dense(name: "fc1", inputSize: inp, outputSize: out)
        d.weight.value = FiniteDifference.randomTensor([out, inp], &rng, scale: 0.5)
        d.bias.value = FiniteDifference.randomTensor([out], &rng, scale: 0.5)
        return d
    }

    static func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / (1 + max(abs(x), abs(y)))) }
        return worst
    }

    /// CSR, CSC and CSC-to-CSR positions against brute force: empty rows, an empty and a full
    /// mask, a single row and a single column.
    @Test(arguments: [(13, 37, 0.3), (13, 37, 0.0), (13, 37, 1.0), (1, 50, 0.5), (50, 1, 0.5), (300, 78, 0.08)])
    func patternMatchesBruteForce(rows: Int, cols: Int, density: Double) {
        var rng = RandomSource(seed: 3)
        let empty = rows > 12 ? [0, 5, 12] : []
        let mask = Self.randomMask(rows: rows, cols: cols, density: density, emptyRows: empty, rng: &rng)
        let p = SparsityPattern.of(mask)
        var csr: [(Int, Int)] = [], csc: [(Int, Int)] = []
        for r in 0..<rows { for c in 0..<cols where mask[r, c] != 0 { csr.append((r, c)) } }
        for c in 0..<cols { for r in 0..<rows where mask[r, c] != 0 { csc.append((r, c)) } }
        #expect(p.nonzeros == csr.count)
        #expect(p.csrCol.count == csr.count && p.csrFlat.count == csr.count && p.cscRow.count == csr.count)
        var k = 0
        for r in 0..<rows {
            for kk in Int(p.csrPtr[r])..<Int(p.csrPtr[r + 1]) {
                #expect(Int(p.csrCol[kk]) == csr[k].1 && csr[k].0 == r)
                #expect(Int(p.csrFlat[kk]) == r * cols + csr[k].1)
                k += 1
            }
        }
        k = 0
        for c in 0..<cols {
            for kk in Int(p.cscPtr[c])..<Int(p.cscPtr[c + 1]) {
                #expect(Int(p.cscRow[kk]) == csc[k].0 && csc[k].1 == c)
                #expect(Int(p.cscFlat[kk]) == csc[k].0 * cols + c)
                #expect(p.csrFlat[Int(p.cscPosition[kk])] == p.cscFlat[kk])  // its CSR position
                k += 1
            }
        }
        #expect(p.csrPtr[0] == 0 && p.csrPtr[rows] == Int32(csr.count) && p.cscPtr[cols] == Int32(csr.count))
    }

    /// Forward, weight, bias and input gradients of the sparse path equal the dense SGEMM path
    /// on the same masked weights to float summation order, on every instruction-set path, for
    /// batches that are and are not multiples of the vector width, with empty rows, a fully
    /// pruned layer and density 1.
    @Test(arguments: ["avx512", "avx2", "portable"])
    func sparseMatchesDense(isa: String) {
        SparseKernelISA.force(isa)
        defer { SparseKernelISA.force(nil) }
        var rng = RandomSource(seed: 11)
        for (inp, out) in [(37, 19), (100, 10), (300, 100), (10, 40)] {  // (10, 40): out > in takes the CSR weight gradient
            for density in [0.0, 0.05, 0.3, 1.0] {
                for batch in [1, 7, 16, 25, 64, 100] {  // 25 and 64: the ld 32 and 64 kernels
                    let d = Self.layer(inp: inp, out: out, rng: &rng)
                    d.weight.setMask(
                        Self.randomMask(
                            rows: out, cols: inp, density: density,
                            emptyRows: density == 1 ? [] : [0, out / 2], rng: &rng))
                    let x = FiniteDifference.randomTensor([batch, inp], &rng)
                    let dy = FiniteDifference.randomTensor([batch, out], &rng)
                    d.kernelPolicy = .dense
                    let y0 = d.forward(x, training: true)
                    let dx0 = d.backward(dy, needInputGrad: true)!
                    let gw0 = d.weight.grad.scalars, gb0 = d.bias.grad.scalars
                    d.kernelPolicy = .sparse
                    let y1 = d.forward(x, training: true)
                    #expect(d.lastKernel == .sparse)
                    let dx1 = d.backward(dy, needInputGrad: true)!
                    let what = "\(isa) \(out)x\(inp) density \(density) batch \(batch)"
                    // summation-order bound: sums of up to max(in, out, batch) terms in another order
                    let tol = 2 * Float(max(inp, out, batch)) * Float.ulpOfOne
                    #expect(Self.maxRelativeError(y0.scalars, y1.scalars) < tol, "forward \(what)")
                    #expect(Self.maxRelativeError(dx0.scalars, dx1.scalars) < tol, "dx \(what)")
                    #expect(Self.maxRelativeError(gb0, d.bias.grad.scalars) < tol, "db \(what)")
                    // the dense product's gradient at pruned entries is not zero: compare live ones,
                    // and the sparse path's pruned entries must be exactly 0
                    let mask = d.weight.mask!.scalars
                    let live0 = zip(gw0, mask).map { $1 != 0 ? $0 : 0 }
                    #expect(Self.maxRelativeError(live0, d.weight.grad.scalars) < tol, "dW \(what)")
                    #expect(zip(d.weight.grad.scalars, mask).allSatisfy { $1 != 0 || $0 == 0 }, "dW pruned \(what)")
                }
            }
        }
    }

    @Test func finiteDifferencesOnSparsePath() {
        var rng = RandomSource(seed: 5)
        let d = Self.layer(inp: 9, out: 6, rng: &rng)
        d.weight.setMask(Self.randomMask(rows: 6, cols: 9, density: 0.35, emptyRows: [2], rng: &rng))
        d.kernelPolicy = .sparse
        FiniteDifference.check(d, input: FiniteDifference.randomTensor([5, 9], &rng), rng: &rng)
        #expect(d.lastKernel == .sparse)
    }

    /// Without a mask (a dense run), and with `dense` policy, the layer runs SGEMM: bitwise the
    /// same forward and gradients whatever the policy says.
    @Test func unmaskedLayerStaysOnTheDensePath() {
        var rng = RandomSource(seed: 8)
        let d = Self.layer(inp: 50, out: 20, rng: &rng)
        let x = FiniteDifference.randomTensor([32, 50], &rng)
        let dy = FiniteDifference.randomTensor([32, 20], &rng)
        var outputs: [[Float]] = []
        for policy in [KernelPolicy.dense, .auto, .measured, .sparse] {
            d.kernelPolicy = policy
            let y = d.forward(x, training: true)
            let dx = d.backward(dy, needInputGrad: true)!
            #expect(d.lastKernel == .dense)
            outputs.append(y.scalars + dx.scalars + d.weight.grad.scalars)
        }
        #expect(outputs[0] == outputs[1] && outputs[0] == outputs[2])
    }

    /// The update over live weights only (taken at density 0.2) equals the dense masked update
    /// written out by hand, bit for bit, with momentum, Nesterov and weight decay.
    @Test func liveWeightUpdateEqualsMaskedDenseUpdate() {
        var rng = RandomSource(seed: 21)
        let mask = Self.randomMask(rows: 30, cols: 40, density: 0.2, rng: &rng)
        let w = FiniteDifference.randomTensor([30, 40], &rng)
        let grads = (0..<3).map { _ in FiniteDifference.randomTensor([30, 40], &rng) }
        let p = Parameter(name: "fc1.weight", value: w, isPrunable: true)
        let opt = SGD(parameters: [p], momentum: 0.9, nesterov: true, weightDecay: 0.01)
        p.setMask(mask)
        opt.applyMasksToState()
        for g in grads {
            p.grad = g
            opt.step(learningRate: 0.1)
        }
        let lr: Float = 0.1, mu: Float = 0.9, wd: Float = 0.01
        var wr = w.scalars, vr = [Float](repeating: 0, count: w.count)
        for j in 0..<wr.count { wr[j] *= mask.scalars[j] }
        for g in grads {
            for j in 0..<wr.count {
                let gj = g.scalars[j] + wd * wr[j]
                var vj = mu * vr[j] + gj
                var wj = wr[j] - lr * (gj + mu * vj)
                vj *= mask.scalars[j]; wj *= mask.scalars[j]
                vr[j] = vj; wr[j] = wj
            }
        }
        // equal as floats (a pruned entry may be -0 in the reference and +0 in the live update)
        #expect(p.value.scalars == wr)
        #expect(opt.velocity[0].scalars == vr)
    }

    /// The live update keeps momentum compact between steps: reading `velocity` mid-way (as a
    /// checkpoint does), tightening the mask, and going back to the dense update when the mask
    /// is removed all give the dense masked update's momentum and weights exactly.
    @Test func compactMomentumSurvivesReadsAndMaskChanges() {
        var rng = RandomSource(seed: 23)
        let mask1 = Self.randomMask(rows: 30, cols: 40, density: 0.2, rng: &rng)
        var mask2 = mask1
        for j in 0..<mask2.count where rng.nextUniform() < 0.5 { mask2.scalars[j] = 0 }
        let w = FiniteDifference.randomTensor([30, 40], &rng)
        let grads = (0..<9).map { _ in FiniteDifference.randomTensor([30, 40], &rng) }
        let p = Parameter(name: "fc1.weight", value: w, isPrunable: true)
        let opt = SGD(parameters: [p], momentum: 0.9, weightDecay: 0.01)
        let lr: Float = 0.1, mu: Float = 0.9, wd: Float = 0.01
        var wr = w.scalars, vr = [Float](repeating: 0, count: w.count)
        var current: Tensor? = mask1
        p.setMask(mask1)
        opt.applyMasksToState()
        for j in 0..<wr.count { wr[j] *= mask1.scalars[j] }
        for (t, g) in grads.enumerated() {
            if t == 3 { #expect(opt.velocity[0].scalars == vr) }  // a read between steps
            if t == 5 {
                current = mask2
                p.setMask(mask2)
                opt.applyMasksToState()
                for j in 0..<wr.count { wr[j] *= mask2.scalars[j]; vr[j] *= mask2.scalars[j] }
            }
            if t == 7 {
                current = nil
                p.setMask(nil)
            }
            p.grad = g
            opt.step(learningRate: Double(lr))
            for j in 0..<wr.count {
                let gj = g.scalars[j] + wd * wr[j]
                var vj = mu * vr[j] + gj
                var wj = wr[j] - lr * vj
                if let m = current { vj *= m.scalars[j]; wj *= m.scalars[j] }
                vr[j] = vj; wr[j] = wj
            }
        }
        #expect(p.value.scalars == wr)
        #expect(opt.velocity[0].scalars == vr)
    }

    static func mlp() -> Sequential {
        Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 20, outputSize: 32), Activation(name: "relu1", kind: .relu),
                Dense(name: "fc2", inputSize: 32, outputSize: 16), Activation(name: "relu2", kind: .relu),
                Dense(name: "fc3", inputSize: 16, outputSize: 4),
            ],
            inputShape: [20], loss: .softmaxCrossEntropy)
    }

    /// Training with data-parallel workers, masks tightened twice mid-training: the sparse
    /// kernels give the dense kernels' weights to float summation order, and pruned weights stay 0.
    @Test(arguments: [1, 2])
    func trainingWithChangingMasksMatchesDense(workers: Int) throws {
        var results: [[Float]] = []
        for policy in [KernelPolicy.dense, .sparse] {
            var rng = RandomSource(seed: 99)
            let model = Self.mlp()
            for p in model.parameters { p.value = FiniteDifference.randomTensor(p.value.shape, &rng, scale: 0.4) }
            model.kernelPolicy = policy
            let images = FiniteDifference.randomTensor([96, 20], &rng)
            let labels = (0..<96).map { _ in rng.nextInt(below: 4) }
            let opt = SGD(parameters: model.parameters, momentum: 0.9, weightDecay: 1e-3)
            let trainer = Trainer(
                model: model, optimizer: opt, schedule: LearningRateSchedule(base: 0.05),
                batcher: Batcher(
                    images: images, labels: labels, batchSize: 32, shuffle: true,
                    rng: RandomSource(seed: 1)),
                workers: workers)
            var maskRNG = RandomSource(seed: 7)
            try trainer.train(steps: 4)
            for density in [0.4, 0.1] {
                for p in model.prunableParameters {
                    var m = p.mask ?? Tensor(shape: p.value.shape, repeating: 1)
                    for j in 0..<m.count where maskRNG.nextUniform() > density { m.scalars[j] = 0 }
                    p.setMask(m)
                }
                opt.applyMasksToState()
                try trainer.train(steps: 4)
            }
            for p in model.prunableParameters {
                #expect(zip(p.value.scalars, p.mask!.scalars).allSatisfy { $1 != 0 || $0 == 0 })
            }
            let fc1 = model.layers[0] as! Dense
            #expect(fc1.lastKernel == (policy == .sparse ? .sparse : .dense))
            results.append(model.parameters.flatMap(\.value.scalars))
        }
        #expect(Self.maxRelativeError(results[0], results[1]) < 1e-4)
    }

    /// A sparse backward leaves the weight gradient compact, in CSR order: reading `grad` gives
    /// the dense layout (the compact entries at their flat indices, exact zeros elsewhere), equal
    /// to SGEMM's gradient on the masked weights up to summation order; writing `grad` makes the
    /// dense tensor the gradient again; a dense backward after a sparse one leaves no compact one.
    @Test(arguments: [(300, 78), (20, 50)])  // columns walked (out <= in) and rows walked (out > in)
    func compactGradientReadsAsTheDenseOne(inp: Int, out: Int) {
        var rng = RandomSource(seed: 31)
        let d = Self.layer(inp: inp, out: out, rng: &rng)
        d.weight.setMask(Self.randomMask(rows: out, cols: inp, density: 0.3, emptyRows: [1], rng: &rng))
        let x = FiniteDifference.randomTensor([24, inp], &rng)
        let dy = FiniteDifference.randomTensor([24, out], &rng)
        d.kernelPolicy = .dense
        _ = d.forward(x, training: true)
        _ = d.backward(dy, needInputGrad: true)
        let reference = zip(d.weight.grad.scalars, d.weight.mask!.scalars).map { $0 * $1 }
        #expect(d.weight.compactPattern == nil)
        d.kernelPolicy = .sparse
        _ = d.forward(x, training: true)
        _ = d.backward(dy, needInputGrad: true)
        let pattern = d.weight.sparsityPattern!
        #expect(d.weight.compactPattern === pattern && d.weight.compactGradient.count == pattern.nonzeros)
        let compact = d.weight.compactGradient
        let dense = d.weight.grad.scalars
        for (k, j) in pattern.csrFlat.enumerated() { #expect(dense[Int(j)].bitPattern == compact[k].bitPattern) }
        #expect(zip(dense, d.weight.mask!.scalars).allSatisfy { $1 != 0 || $0.bitPattern == 0 })
        #expect(Self.maxRelativeError(dense, reference) < 1e-5)
        // a second sparse backward with another dy: the dense view follows the new compact values
        let dy2 = FiniteDifference.randomTensor([24, out], &rng)
        _ = d.forward(x, training: true)
        _ = d.backward(dy2, needInputGrad: false)
        #expect(d.weight.grad.scalars != dense)
        #expect(pattern.csrFlat.enumerated().allSatisfy { d.weight.grad.scalars[Int($1)] == d.weight.compactGradient[$0] })
        d.weight.grad.scalars[Int(pattern.csrFlat[0])] = 42
        #expect(d.weight.compactPattern == nil && d.weight.grad.scalars[Int(pattern.csrFlat[0])] == 42)
        d.kernelPolicy = .dense
        _ = d.forward(x, training: true)
        _ = d.backward(dy, needInputGrad: true)
        #expect(d.weight.compactPattern == nil && d.weight.gradientPattern == nil)
    }

    /// `measured` times both kernels once per shape and density band and caches the choice.
    @Test func autoMeasuresOncePerBand() {
        var rng = RandomSource(seed: 2)
        let d = Self.layer(inp: 300, out: 100, rng: &rng)
        d.kernelPolicy = .measured
        d.weight.setMask(Self.randomMask(rows: 100, cols: 300, density: 0.07, rng: &rng))
        let x = FiniteDifference.randomTensor([64, 300], &rng)
        for _ in 0..<3 { _ = d.forward(x, training: true) }
        let m = d.kernelChoices.measurements
        #expect(m.count == 1)
        #expect(m.first?.band == 1 && m.first?.rows == 100 && m.first?.cols == 300 && m.first?.batch == 64)
        #expect(d.lastKernel == m.first?.choice)
        d.weight.setMask(Self.randomMask(rows: 100, cols: 300, density: 0.8, rng: &rng))
        _ = d.forward(x, training: true)
        #expect(d.lastKernel == .dense && d.kernelChoices.measurements.count == 1)
    }
}

@Suite struct AutoKernelRuleTests {
    /// `auto` is a fixed rule (density <= 0.4 runs sparse), never a timing.
    @Test func autoSwitchesAtTheFixedDensity() {
        var rng = RandomSource(seed: 5)
        let d = Dense(name: "fc1", inputSize: 200, outputSize: 50)
        Initializer.he.initialize(Sequential(layers: [d], inputShape: [200], loss: .softmaxCrossEntropy), rng: &rng)
        let x = FiniteDifference.randomTensor([32, 200], &rng)
        for (density, expected) in [(0.6, KernelKind.dense), (0.46, .dense), (0.34, .sparse), (0.05, .sparse)] {
            d.weight.setMask(SparseKernelTests.randomMask(rows: 50, cols: 200, density: density, rng: &rng))
            _ = d.forward(x, training: true)
            #expect(d.lastKernel == expected, "density \(density)")
        }
        #expect(d.kernelChoices.measurements.isEmpty)
    }
}

/// The vectorised unmasked momentum update gives the scalar equations' bits (dense runs stay
/// bit-identical), for heavy-ball and Nesterov, with a ragged tail.
@Suite struct VectorSGDTests {
    @Test(arguments: [false, true])
    func momentumUpdateIsBitwiseTheScalarLoop(nesterov: Bool) {
        var rng = RandomSource(seed: 77)
        let n = 1003
        let w0 = (0..<n).map { _ in Float(rng.nextNormal()) }, g0 = (0..<n).map { _ in Float(rng.nextNormal()) }
        let v0 = (0..<n).map { _ in Float(rng.nextNormal() * 0.1) }
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [n], scalars: w0), isPrunable: true)
        let opt = SGD(parameters: [p], momentum: 0.9, nesterov: nesterov, weightDecay: 5e-4)
        p.grad = Tensor(shape: [n], scalars: g0)
        // one step from v = 0 and a second from the resulting v, against the scalar loop
        var wr = w0, vr = [Float](repeating: 0, count: n)
        for _ in 0..<2 {
            opt.step(learningRate: 0.05)
            for j in 0..<n {
                let gj = g0[j] + Float(5e-4) * wr[j]
                let vj = Float(0.9) * vr[j] + gj
                wr[j] = wr[j] - Float(0.05) * (nesterov ? gj + Float(0.9) * vj : vj)
                vr[j] = vj
            }
        }
        #expect(p.value.scalars == wr)
        #expect(opt.velocity[0].scalars == vr)
        _ = v0
    }

    /// The masked update (layers denser than `SGD.liveUpdateDensity`) against the scalar
    /// equations with `* mask` on both buffers: bit for bit, pruned entries exactly 0.
    @Test(arguments: [false, true])
    func maskedMomentumUpdateIsBitwiseTheScalarLoop(nesterov: Bool) {
        var rng = RandomSource(seed: 78)
        let n = 1003
        let w0 = (0..<n).map { _ in Float(rng.nextNormal()) }, g0 = (0..<n).map { _ in Float(rng.nextNormal()) }
        let mask = (0..<n).map { _ in Float(rng.nextUniform() < 0.6 ? 1 : 0) }
        let p = Parameter(name: "fc1.weight", value: Tensor(shape: [n], scalars: w0), isPrunable: true)
        p.setMask(Tensor(shape: [n], scalars: mask))
        let opt = SGD(parameters: [p], momentum: 0.9, nesterov: nesterov, weightDecay: 5e-4)
        var wr = p.value.scalars, vr = [Float](repeating: 0, count: n)
        for _ in 0..<2 {
            p.grad = Tensor(shape: [n], scalars: g0)
            opt.step(learningRate: 0.05)
            for j in 0..<n {
                let gj = g0[j] + Float(5e-4) * wr[j]
                var vj = Float(0.9) * vr[j] + gj
                var wj = wr[j] - Float(0.05) * (nesterov ? gj + Float(0.9) * vj : vj)
                vj *= mask[j]
                wj *= mask[j]
                vr[j] = vj
                wr[j] = wj
            }
        }
        #expect(p.value.scalars == wr)
        #expect(opt.velocity[0].scalars == vr)
        #expect((0..<n).allSatisfy { mask[$0] == 1 || (p.value.scalars[$0] == 0 && opt.velocity[0].scalars[$0] == 0) })
    }
}

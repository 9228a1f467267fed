import CSparseKernels
import Testing
import TensorCore
import NN
import Training

/// Consecutive sparse dense layers passing activations and gradients transposed
/// (`TransposedBatch`) against the same models with every layer taking and giving rows, bit
/// for bit, and the bias row sums against a sequential loop.
@Suite struct TransposedHandOverTests {
    /// `psk_row_sums` equals `s = 0; s += y[t]` for t = 0, 1, ... bit for bit on every
    /// instruction-set path, for row counts around the eight-row blocks and odd batches, with
    /// NaN in the padding columns (which must not be read) and values over many magnitudes (so
    /// any other summation order would show).
    @Test(arguments: ["avx512", "avx2", "portable"])
    func rowSumsAreTheSequentialLoop(isa: String) {
        SparseKernelISA.force(isa)
        defer { SparseKernelISA.force(nil) }
        var rng = RandomSource(seed: 17)
        for rows in [1, 7, 8, 9, 17, 100] {
            for n in [1, 5, 16, 37, 128] {
                let ld = (n + 15) / 16 * 16 + 16
                var y = [Float](repeating: .nan, count: rows * ld)
                for r in 0..<rows {
                    for t in 0..<n {
                        let v = Float(rng.nextNormal()) * Self.scales[rng.nextInt(below: Self.scales.count)]
                        y[r * ld + t] = t % 11 == 3 ? -0.0 : v
                    }
                }
                var sums = [Float](repeating: 0, count: rows)
                psk_row_sums(Int32(rows), Int32(n), Int32(ld), y, &sums)
                for r in 0..<rows {
                    var s: Float = 0
                    for t in 0..<n { s += y[r * ld + t] }
                    #expect(sums[r].bitPattern == s.bitPattern, "\(isa) rows \(rows) n \(n) row \(r)")
                }
            }
        }
    }

    static let scales: [Float] = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4]

    /// A masked MLP with the given widths and activation, each dense layer's mask at the given
    /// density.
    static func model(widths: [Int], activation: ActivationKind, densities: [Double], seed: UInt64) -> Sequential {
        var layers: [Layer] = []
        for i in 0..<(widths.count - 1) {
            if i > 0 { layers.append(Activation(name: "act\(i)", kind: activation)) }
            layers.append(Dense(name: "fc\(i + 1)", inputSize: widths[i], outputSize: widths[i + 1]))
        }
        let m = Sequential(layers: [Flatten(name: "flatten")] + layers, inputShape: [widths[0]], loss: .softmaxCrossEntropy)
        var rng = RandomSource(seed: seed)
        for p in m.parameters { p.value = FiniteDifference.randomTensor(p.value.shape, &rng, scale: 0.3) }
        for (p, density) in zip(m.prunableParameters, densities) {
            var mask = Tensor(shape: p.value.shape)
            for j in 0..<mask.count where rng.nextUniform() < density { mask.scalars[j] = 1 }
            p.setMask(mask)
        }
        return m
    }

    struct Case: Sendable, CustomStringConvertible {
        var widths: [Int], activation: ActivationKind, densities: [Double], batch: Int, policy: KernelPolicy
        /// Which dense layers (by position) take their input transposed.
        var transposedInputs: [Bool]
        var description: String { "\(widths) \(activation) \(densities) batch \(batch) \(policy)" }
    }

    static let cases: [Case] = [
        Case(
            widths: [784, 300, 100, 10], activation: .relu, densities: [0.05, 0.05, 0.1], batch: 128, policy: .sparse,
            transposedInputs: [false, true, true]),
        Case(
            widths: [784, 300, 100, 10], activation: .tanh, densities: [0.08, 0.1, 0.3], batch: 37, policy: .sparse,
            transposedInputs: [false, true, true]),
        // fc2 above auto's density switch runs SGEMM: no hand-over into or out of it
        Case(
            widths: [100, 60, 40, 30, 10], activation: .sigmoid, densities: [0.1, 0.6, 0.2, 0.3], batch: 37, policy: .auto,
            transposedInputs: [false, false, false, true]),
    ]

    /// Three SGD steps on gathered batches: logits, every gradient and the weights after each
    /// step are bitwise those of the same model with the hand-over off, and within 1e-4 of the
    /// dense kernels; the dense layers take their input transposed exactly where the case says.
    @Test(arguments: cases)
    func handOverIsBitwiseTheRowPath(c: Case) {
        var rng = RandomSource(seed: 4)
        let samples = 3 * c.batch
        let images = FiniteDifference.randomTensor([samples, c.widths[0]], &rng)
        let labels = (0..<samples).map { _ in rng.nextInt(below: c.widths.last!) }
        let models = [true, false, false].map { _ in Self.model(widths: c.widths, activation: c.activation, densities: c.densities, seed: 9)
        }
        models[1].keepsSparseActivationsTransposed = false
        models[0].kernelPolicy = c.policy
        models[1].kernelPolicy = c.policy
        models[2].kernelPolicy = .dense
        let optimizers = models.map { SGD(parameters: $0.parameters, momentum: 0.9, weightDecay: 1e-4) }
        for step in 0..<3 {
            let rows = RowGather(source: images, rows: (step * c.batch)..<((step + 1) * c.batch))
            var logitsAndWeights: [[Float]] = [], gradients: [[Float]] = []
            for (m, opt) in zip(models, optimizers) {
                let logits = m.forward(gathering: rows, training: true)
                let r = m.loss.evaluate(
                    logits: logits, labels: labels[(step * c.batch)..<((step + 1) * c.batch)], wantGradient: true)
                m.backward(r.gradient)
                gradients.append(m.parameters.flatMap(\.grad.scalars))
                opt.step(learningRate: 0.05)
                logitsAndWeights.append(logits.scalars + m.parameters.flatMap(\.value.scalars))
            }
            #expect(logitsAndWeights[0].map(\.bitPattern) == logitsAndWeights[1].map(\.bitPattern), "\(c) step \(step)")
            #expect(gradients[0].map(\.bitPattern) == gradients[1].map(\.bitPattern), "\(c) step \(step) gradients")
            // SGEMM's gradient is not zero at pruned entries: the dense kernels are compared on
            // logits and (masked) weights
            #expect(
                SparseKernelTests.maxRelativeError(logitsAndWeights[0], logitsAndWeights[2]) < 1e-4,
                "\(c) step \(step) against the dense kernels")
            let dense = models[0].layers.compactMap { $0 as? Dense }
            #expect(dense.map(\.inputTransposed) == c.transposedInputs, "\(c)")
            #expect(models[1].layers.compactMap { ($0 as? Dense)?.inputTransposed }.allSatisfy { !$0 })
        }
    }

    /// `forward(_:)` on a row-major batch hands over as `forward(gathering:)` does: the same
    /// logits and gradients with the hand-over on and off, on an odd batch.
    @Test func rowMajorForwardHandsOverToo() {
        var rng = RandomSource(seed: 6)
        let x = FiniteDifference.randomTensor([21, 50], &rng)
        let labels = (0..<21).map { _ in rng.nextInt(below: 5) }
        var values: [[UInt32]] = []
        for on in [true, false] {
            let m = Self.model(widths: [50, 40, 30, 5], activation: .relu, densities: [0.2, 0.2, 0.3], seed: 2)
            m.kernelPolicy = .sparse
            m.keepsSparseActivationsTransposed = on
            let logits = m.forward(x, training: true)
            m.backward(m.loss.evaluate(logits: logits, labels: labels[...], wantGradient: true).gradient)
            #expect(m.layers.compactMap { ($0 as? Dense)?.inputTransposed } == [false, on, on])
            values.append((logits.scalars + m.parameters.flatMap(\.grad.scalars)).map(\.bitPattern))
        }
        #expect(values[0] == values[1])
    }
}

import CSparseKernels
import Testing
import TensorCore
import NN
import Training

/// Batches handed to the model as rows of the set (`RowGather`): a sparse first layer gathers
/// them straight into its transposed input. Checked against brute force and against the copied
/// batch on the usual path, bit for bit.
@Suite(.serialized) struct RowGatherTests {
    /// The gather-transpose kernel against the definition, zero padding included, on every path.
    @Test(arguments: ["avx2", "portable"])
    func gatherTransposeMatchesBruteForce(isa: String) {
        SparseKernelISA.force(isa)
        defer { SparseKernelISA.force(nil) }
        var rng = RandomSource(seed: 5)
        let setRows = 50, n = 27
        let set = (0..<(setRows * n)).map { _ in Float(rng.nextUniform()) }
        for count in [1, 7, 8, 13, 16, 33] {
            let rows = (0..<count).map { _ in Int32(rng.nextInt(below: setRows)) }
            let ld = (count + 15) / 16 * 16
            var dst = [Float](repeating: .nan, count: n * ld)
            set.withUnsafeBufferPointer { s in
                rows.withUnsafeBufferPointer { r in
                    psk_gather_transpose_pad(s.baseAddress!, r.baseAddress!, Int32(count), Int32(n), Int32(ld), &dst)
                }
            }
            var expected = [Float](repeating: 0, count: n * ld)
            for (b, row) in rows.enumerated() {
                for j in 0..<n { expected[j * ld + b] = set[Int(row) * n + j] }
            }
            #expect(dst == expected, "count \(count)")
        }
    }

    @Test func materializeCopiesTheRows() {
        let set = Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init))
        let batch = RowGather(source: set, rows: [2, 0, 2])
        #expect(batch.shape == [3, 3])
        #expect(batch.materialize().scalars == [6, 7, 8, 0, 1, 2, 6, 7, 8])
    }

    /// Images `[N, 1, 4, 5]` (a Flatten in front), masked layers on the sparse kernels: the
    /// gathered forward and the backward after it give the copied batch's outputs and gradients
    /// bit for bit; without masks (dense path) the batch is copied and the results agree too.
    @Test(arguments: [true, false])
    func gatheredBatchGivesTheCopiedBatchsBits(masked: Bool) {
        var rng = RandomSource(seed: 11)
        func model() -> Sequential {
            Sequential(
                layers: [
                    Flatten(name: "flatten1"), Dense(name: "fc1", inputSize: 20, outputSize: 24),
                    Activation(name: "relu1", kind: .relu), Dense(name: "fc2", inputSize: 24, outputSize: 3),
                ],
                inputShape: [1, 4, 5], loss: .softmaxCrossEntropy)
        }
        let a = model(), b = model()
        for (p, q) in zip(a.parameters, b.parameters) {
            p.value = FiniteDifference.randomTensor(p.value.shape, &rng, scale: 0.5)
            q.value = p.value
        }
        if masked {
            for (p, q) in zip(a.prunableParameters, b.prunableParameters) {
                let m = SparseKernelTests.randomMask(rows: p.value.shape[0], cols: p.value.shape[1], density: 0.3, rng: &rng)
                p.setMask(m)
                q.setMask(m)
            }
        }
        a.kernelPolicy = .sparse
        b.kernelPolicy = .sparse
        let set = FiniteDifference.randomTensor([40, 1, 4, 5], &rng)
        let rows = (0..<21).map { _ in rng.nextInt(below: 40) }
        let labels = rows.map { $0 % 3 }[...]
        let gathered = RowGather(source: set, rows: rows)
        let ya = a.forward(gathering: gathered, training: true)
        let yb = b.forward(gathered.materialize(), training: true)
        #expect(ya.shape == [21, 3])
        #expect(ya.scalars == yb.scalars)
        #expect((a.layers[1] as! Dense).lastKernel == (masked ? .sparse : .dense))
        a.backward(a.loss.evaluate(logits: ya, labels: labels, wantGradient: true).gradient)
        b.backward(b.loss.evaluate(logits: yb, labels: labels, wantGradient: true).gradient)
        for (p, q) in zip(a.parameters, b.parameters) {
            #expect(p.grad.scalars == q.grad.scalars, "\(p.name)")
        }
    }
}

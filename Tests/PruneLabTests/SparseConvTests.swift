import Testing
import TensorCore
import NN

/// The sparse im2col product of masked convolutions against the SGEMM path on the same masked
/// weights and against finite differences, including a weight gradient summed over chunks.
@Suite struct SparseConvTests {
    static func conv(inC: Int, outC: Int, kernel: Int, padding: Int, density: Double, rng: inout RandomSource) -> Conv2D {
        let c = Conv2D(name: "conv1", inChannels: inC, outChannels: outC, kernel: kernel, padding: padding)
        c.weight.value = FiniteDifference.randomTensor(c.weight.value.shape, &rng, scale: 0.3)
        c.bias.value = FiniteDifference.randomTensor([outC], &rng, scale: 0.3)
        var m = Tensor(shape: c.weight.value.shape)
        for j in 0..<m.count where rng.nextUniform() < density { m.scalars[j] = 1 }
        if density > 0 && density < 1 { for j in 0..<(inC * kernel * kernel) { m.scalars[j] = 0 } }  // an empty filter
        c.weight.setMask(m)
        return c
    }

    /// LeNet-5's conv2 shape (500 inputs per position, 8x8 positions): 9 samples make 3 chunks.
    @Test(arguments: [0.0, 0.1, 0.5, 1.0])
    func sparseMatchesDense(density: Double) {
        var rng = RandomSource(seed: 31)
        let c = Self.conv(inC: 20, outC: 10, kernel: 5, padding: 0, density: density, rng: &rng)
        let x = FiniteDifference.randomTensor([9, 20, 12, 12], &rng)
        let dy = FiniteDifference.randomTensor([9, 10, 8, 8], &rng)
        c.kernelPolicy = .dense
        let y0 = c.forward(x, training: true)
        let dx0 = c.backward(dy, needInputGrad: true)!
        let gw0 = c.weight.grad.scalars, gb0 = c.bias.grad.scalars
        c.kernelPolicy = .sparse
        let y1 = c.forward(x, training: true)
        #expect(c.lastKernel == .sparse)
        let dx1 = c.backward(dy, needInputGrad: true)!
        let tol: Float = 2 * 9 * 64 * Float.ulpOfOne  // sums of up to batch * positions terms
        let mask = c.weight.mask!.scalars
        #expect(SparseKernelTests.maxRelativeError(y0.scalars, y1.scalars) < tol)
        #expect(SparseKernelTests.maxRelativeError(dx0.scalars, dx1.scalars) < tol)
        #expect(SparseKernelTests.maxRelativeError(gb0, c.bias.grad.scalars) < tol)
        #expect(SparseKernelTests.maxRelativeError(zip(gw0, mask).map { $1 != 0 ? $0 : 0 }, c.weight.grad.scalars) < tol)
        #expect(zip(c.weight.grad.scalars, mask).allSatisfy { $1 != 0 || $0 == 0 })
    }

    @Test func finiteDifferencesOnSparsePath() {
        var rng = RandomSource(seed: 4)
        let c = Self.conv(inC: 2, outC: 3, kernel: 4, padding: 0, density: 0.5, rng: &rng)  // 7x7 input: 4x4 = 16 positions
        c.kernelPolicy = .sparse
        FiniteDifference.check(c, input: FiniteDifference.randomTensor([2, 2, 7, 7], &rng), rng: &rng)
        #expect(c.lastKernel == .sparse)
    }

    /// Positions per sample that are not a multiple of 16 keep the SGEMM path.
    @Test func oddPositionCountsStayDense() {
        var rng = RandomSource(seed: 6)
        let c = Self.conv(inC: 1, outC: 2, kernel: 3, padding: 0, density: 0.2, rng: &rng)
        c.kernelPolicy = .sparse
        _ = c.forward(FiniteDifference.randomTensor([2, 1, 7, 7], &rng), training: true)  // 5x5 = 25 positions
        #expect(c.lastKernel == .dense)
    }
}

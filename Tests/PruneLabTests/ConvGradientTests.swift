import Testing
import TensorCore
import NN

/// Finite-difference, reference and shape checks of `Conv2D` and `MaxPool2D`.
///
/// Same method as `GradientTests`: the scalar `L = sum(c ⊙ f(x))` (random `c`) is differentiated
/// by central differences (eps 1e-2) with sums in Double and compared with the analytic
/// gradient under a relative + absolute tolerance.
@Suite struct ConvGradientTests {
    func randomConv(inC: Int, outC: Int, kernel: Int, stride: Int, padding: Int, _ rng: inout RandomSource) -> Conv2D {
        let conv = Conv2D(name: "conv1", inChannels: inC, outChannels: outC, kernel: kernel, stride: stride, padding: padding)
        conv.weight.value = FiniteDifference.randomTensor([outC, inC, kernel, kernel], &rng, scale: 0.5)
        conv.bias.value = FiniteDifference.randomTensor([outC], &rng, scale: 0.5)
        return conv
    }

    /// Naive cross-correlation with zero padding, accumulated in Double.
    func referenceConv(_ x: Tensor, _ conv: Conv2D) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let k = conv.kernel, s = conv.stride, p = conv.padding, oc = conv.outChannels
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        let wt = conv.weight.value.scalars, bias = conv.bias.value.scalars, xs = x.scalars
        var y = [Float](repeating: 0, count: b * oc * oh * ow)
        for n in 0..<b {
            for o in 0..<oc {
                for r in 0..<oh {
                    for q in 0..<ow {
                        var sum = Double(bias[o])
                        for ci in 0..<c {
                            for i in 0..<k {
                                for j in 0..<k {
                                    let ih = r * s - p + i, iw = q * s - p + j
                                    guard ih >= 0 && ih < h && iw >= 0 && iw < w else { continue }
                                    sum += Double(wt[((o * c + ci) * k + i) * k + j]) * Double(xs[((n * c + ci) * h + ih) * w + iw])
                                }
                            }
                        }
                        y[((n * oc + o) * oh + r) * ow + q] = Float(sum)
                    }
                }
            }
        }
        return Tensor(shape: [b, oc, oh, ow], scalars: y)
    }

    struct ConvCase: CustomTestStringConvertible, Sendable {
        let inC: Int, outC: Int, kernel: Int, stride: Int, padding: Int, size: Int, batch: Int
        var testDescription: String { "in\(inC) out\(outC) k\(kernel) s\(stride) p\(padding) \(size)x\(size) B\(batch)" }
    }

    static let cases: [ConvCase] = [
        ConvCase(inC: 2, outC: 3, kernel: 3, stride: 1, padding: 0, size: 7, batch: 2),
        ConvCase(inC: 2, outC: 3, kernel: 3, stride: 2, padding: 1, size: 7, batch: 2),
    ]

    @Test(arguments: cases)
    func conv2DGradients(_ t: ConvCase) {
        var rng = RandomSource(seed: 21)
        let conv = randomConv(inC: t.inC, outC: t.outC, kernel: t.kernel, stride: t.stride, padding: t.padding, &rng)
        FiniteDifference.check(conv, input: FiniteDifference.randomTensor([t.batch, t.inC, t.size, t.size], &rng), rng: &rng)
    }

    @Test(arguments: cases + [ConvCase(inC: 3, outC: 4, kernel: 2, stride: 3, padding: 2, size: 8, batch: 3)])
    func conv2DForwardMatchesNaiveLoops(_ t: ConvCase) {
        var rng = RandomSource(seed: 22)
        let conv = randomConv(inC: t.inC, outC: t.outC, kernel: t.kernel, stride: t.stride, padding: t.padding, &rng)
        let x = FiniteDifference.randomTensor([t.batch, t.inC, t.size, t.size], &rng)
        let y = conv.forward(x, training: false)
        let ref = referenceConv(x, conv)
        #expect(y.shape == ref.shape)
        #expect(y.shape == [t.batch] + conv.outputShape(for: [t.inC, t.size, t.size]))
        for i in 0..<min(y.count, ref.count) {
            #expect(
                abs(y.scalars[i] - ref.scalars[i]) <= 1e-4 * max(1, abs(ref.scalars[i])), "y[\(i)]: \(y.scalars[i]) vs \(ref.scalars[i])")
        }
    }

    /// A layer big enough that every chunk holds one sample (8*5*5 rows x 28*28 positions
    /// exceeds `chunkFloats`): forward against the naive loops, and the gradients of x, W and b
    /// against directional finite differences along random directions.
    @Test func chunkedConvolutionMatchesReferences() {
        var rng = RandomSource(seed: 26)
        let conv = randomConv(inC: 8, outC: 3, kernel: 5, stride: 1, padding: 0, &rng)
        #expect(8 * 25 * 28 * 28 > Conv2D.chunkFloats)
        let x = FiniteDifference.randomTensor([3, 8, 32, 32], &rng)
        let y = conv.forward(x, training: true)
        let ref = referenceConv(x, conv)
        var worst: Float = 0
        for i in 0..<y.count { worst = max(worst, abs(y.scalars[i] - ref.scalars[i]) / max(1, abs(ref.scalars[i]))) }
        #expect(worst <= 1e-4)
        let c = FiniteDifference.randomTensor(y.shape, &rng)
        let dx = conv.backward(c, needInputGrad: true)!
        let loss = { (input: Tensor) in FiniteDifference.weightedSum(conv.forward(input, training: true), c) }
        func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        let eps: Float = 1e-2
        // d/dt L(x + t v) = <dx, v>
        let v = FiniteDifference.randomTensor(x.shape, &rng)
        var xp = x, xm = x
        for i in 0..<x.count { xp.scalars[i] += eps * v.scalars[i]; xm.scalars[i] -= eps * v.scalars[i] }
        FiniteDifference.expectClose(Float(dot(dx.scalars, v.scalars)), (loss(xp) - loss(xm)) / Double(2 * eps), "<dx, v>")
        for p in conv.parameters {
            let g = p.grad.scalars, saved = p.value
            let u = FiniteDifference.randomTensor(saved.shape, &rng)
            for i in 0..<saved.count { p.value.scalars[i] = saved.scalars[i] + eps * u.scalars[i] }
            let lp = loss(x)
            for i in 0..<saved.count { p.value.scalars[i] = saved.scalars[i] - eps * u.scalars[i] }
            let lm = loss(x)
            p.value = saved
            FiniteDifference.expectClose(Float(dot(g, u.scalars)), (lp - lm) / Double(2 * eps), "<d\(p.name), u>")
        }
    }

    @Test func maxPoolGradients() {
        var rng = RandomSource(seed: 23)
        // distinct values 0.1 apart, shuffled: no ties and no argmax change within ±eps
        let shape = [2, 3, 6, 6]
        var values = (0..<shape.reduce(1, *)).map { Float($0) * 0.1 }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, rng.nextInt(below: i + 1))
        }
        let x = Tensor(shape: shape, scalars: values)
        FiniteDifference.check(MaxPool2D(name: "pool1", kernel: 2), input: x, rng: &rng)
        FiniteDifference.check(MaxPool2D(name: "pool2", kernel: 3, stride: 2), input: x, rng: &rng)
    }

    @Test func maxPoolPicksWindowMaximum() {
        let x = Tensor(
            shape: [1, 1, 2, 4],
            scalars: [
                1, 5, 2, 0,
                3, 4, 8, 7,
            ])
        let pool = MaxPool2D(name: "pool", kernel: 2)
        let y = pool.forward(x, training: true)
        #expect(y.shape == [1, 1, 1, 2])
        #expect(y.scalars == [5, 8])
        let dx = pool.backward(Tensor(shape: [1, 1, 1, 2], scalars: [10, 20]), needInputGrad: true)
        #expect(dx?.scalars == [0, 10, 0, 0, 0, 0, 20, 0])
        #expect(pool.forwardFLOPs(inputShape: [1, 2, 4], activeOnly: false) == 2 * 3)
        #expect(pool.backwardFLOPs(inputShape: [1, 2, 4], needInputGrad: true, activeOnly: false) == 2)
    }

    @Test func conv2DFLOPsCountActiveWeights() {
        let conv = Conv2D(name: "conv1", inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1)
        // 7x7, k3, s2, p1 -> 4x4 = 16 positions; 54 weights
        #expect(conv.outputShape(for: [2, 7, 7]) == [3, 4, 4])
        #expect(conv.forwardFLOPs(inputShape: [2, 7, 7], activeOnly: false) == 2 * 54 * 16 + 3 * 16)
        #expect(conv.backwardFLOPs(inputShape: [2, 7, 7], needInputGrad: true, activeOnly: false) == 4 * 54 * 16 + 3 * 16)
        var mask = Tensor(shape: [3, 2, 3, 3], repeating: 1)
        for i in 0..<27 { mask.scalars[i] = 0 }
        conv.weight.setMask(mask)
        #expect(conv.forwardFLOPs(inputShape: [2, 7, 7], activeOnly: true) == 2 * 27 * 16 + 3 * 16)
        #expect(conv.backwardFLOPs(inputShape: [2, 7, 7], needInputGrad: false, activeOnly: true) == 2 * 27 * 16 + 3 * 16)
        let r = conv.replica() as? Conv2D
        #expect(r?.weight.value.shape == [3, 2, 3, 3] && r?.stride == 2 && r?.padding == 1)
    }

    @Test func leNet5CaffeShapesAndOneStep() {
        var rng = RandomSource(seed: 24)
        let model = Sequential(
            layers: [
                Conv2D(name: "conv1", inChannels: 1, outChannels: 20, kernel: 5),
                MaxPool2D(name: "pool1", kernel: 2),
                Conv2D(name: "conv2", inChannels: 20, outChannels: 50, kernel: 5),
                MaxPool2D(name: "pool2", kernel: 2),
                Dense(name: "fc1", inputSize: 800, outputSize: 500),
                Activation(name: "relu1", kind: .relu),
                Dense(name: "fc2", inputSize: 500, outputSize: 10),
            ], inputShape: [1, 28, 28], loss: .softmaxCrossEntropy)
        #expect(model.layerInputShapes.dropFirst().prefix(4).map { $0 } == [[20, 24, 24], [20, 12, 12], [50, 8, 8], [50, 4, 4]])
        #expect(model.outputShape == [10])
        let weights = model.prunableParameters.map { $0.value.count }
        #expect(model.prunableParameters.map(\.name) == ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"])
        #expect(weights == [500, 25000, 400000, 5000])
        #expect(weights.reduce(0, +) == 430500)
        Initializer.he.initialize(model, rng: &rng)
        let x = FiniteDifference.randomTensor([2, 1, 28, 28], &rng)
        let logits = model.forward(x, training: true)
        #expect(logits.shape == [2, 10])
        let r = model.loss.evaluate(logits: logits, labels: [3, 7][...], wantGradient: true)
        #expect(r.loss.isFinite)
        model.backward(r.gradient)
        for p in model.parameters {
            #expect(p.grad.shape == p.value.shape)
            let finite = p.grad.scalars.allSatisfy { $0.isFinite }
            #expect(finite, "\(p.name) has a non-finite gradient")
        }
        #expect((model.parameter(named: "conv1.weight")?.grad.nonzeroCount ?? 0) > 0)
    }
}

@Suite struct FlattenTests {
    @Test func flattenGradientAndShape() {
        var rng = RandomSource(seed: 25)
        let f = Flatten(name: "flatten1")
        #expect(f.outputShape(for: [2, 3, 4]) == [24])
        let x = FiniteDifference.randomTensor([2, 2, 3, 4], &rng)
        let y = f.forward(x, training: true)
        #expect(y.shape == [2, 24] && y.scalars == x.scalars)
        FiniteDifference.check(f, input: x, rng: &rng)
    }
}

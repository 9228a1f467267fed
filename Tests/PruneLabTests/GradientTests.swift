import Testing
import TensorCore
import NN

/// Finite-difference checks of every hand-written backward pass.
///
/// Layers compute in Float; the reference differentiates the scalar `L = sum(c ⊙ f(x))` (random
/// `c`) by central differences with the sum accumulated in Double, and compares it with the
/// analytic gradient under a relative + absolute tolerance.
@Suite struct GradientTests {
    static let eps: Float = 1e-2

    func randomTensor(_ shape: [Int], _ rng: inout RandomSource, scale: Double = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextNormal() * scale) })
    }

    func weightedSum(_ y: Tensor, _ c: Tensor) -> Double {
        zip(y.scalars, c.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    func expectClose(_ analytic: Float, _ numeric: Double, _ what: String) {
        let tol = 2e-2 * max(abs(numeric), abs(Double(analytic))) + 2e-3
        #expect(abs(Double(analytic) - numeric) <= tol, "\(what): analytic \(analytic) vs numeric \(numeric)")
    }

    /// Checks d(sum(c*layer(x)))/dx and /dparams for every entry.
    func check(_ layer: Layer, input: Tensor, rng: inout RandomSource) {
        let y = layer.forward(input, training: true)
        let c = randomTensor(y.shape, &rng)
        let dx = layer.backward(c, needInputGrad: true)!
        let grads = layer.parameters.map(\.grad)
        for i in 0..<input.count {
            var xp = input, xm = input
            xp.scalars[i] += Self.eps
            xm.scalars[i] -= Self.eps
            let num = (weightedSum(layer.forward(xp, training: true), c) - weightedSum(layer.forward(xm, training: true), c)) / Double(2 * Self.eps)
            expectClose(dx.scalars[i], num, "\(layer.name) dx[\(i)]")
        }
        for (p, g) in zip(layer.parameters, grads) {
            for i in 0..<p.value.count {
                let saved = p.value.scalars[i]
                p.value.scalars[i] = saved + Self.eps
                let lp = weightedSum(layer.forward(input, training: true), c)
                p.value.scalars[i] = saved - Self.eps
                let lm = weightedSum(layer.forward(input, training: true), c)
                p.value.scalars[i] = saved
                expectClose(g.scalars[i], (lp - lm) / Double(2 * Self.eps), "\(p.name)[\(i)]")
            }
        }
    }

    @Test func denseGradients() {
        var rng = RandomSource(seed: 11)
        let layer = Dense(name: "fc1", inputSize: 7, outputSize: 5)
        layer.weight.value = randomTensor([5, 7], &rng, scale: 0.5)
        layer.bias.value = randomTensor([5], &rng, scale: 0.5)
        check(layer, input: randomTensor([4, 7], &rng), rng: &rng)
    }

    @Test func denseFlattensHigherRankInput() {
        var rng = RandomSource(seed: 12)
        let layer = Dense(name: "fc1", inputSize: 12, outputSize: 3)
        layer.weight.value = randomTensor([3, 12], &rng, scale: 0.5)
        let x = randomTensor([2, 1, 3, 4], &rng)
        let y = layer.forward(x, training: true)
        #expect(y.shape == [2, 3])
        let dx = layer.backward(Tensor(shape: [2, 3], repeating: 1), needInputGrad: true)!
        #expect(dx.shape == [2, 1, 3, 4])
        check(layer, input: x, rng: &rng)
    }

    @Test(arguments: [ActivationKind.relu, .sigmoid, .tanh])
    func activationGradients(kind: ActivationKind) {
        var rng = RandomSource(seed: 13)
        var x = randomTensor([3, 6], &rng)
        // keep ReLU inputs away from the kink so central differences are valid
        for i in 0..<x.count where abs(x.scalars[i]) < 0.05 { x.scalars[i] = 0.3 }
        check(Activation(name: "act", kind: kind), input: x, rng: &rng)
    }

    @Test(arguments: [LossKind.softmaxCrossEntropy, .sigmoidBinaryCrossEntropy])
    func lossGradients(kind: LossKind) {
        var rng = RandomSource(seed: 14)
        let classes = kind == .softmaxCrossEntropy ? 4 : 1
        let logits = randomTensor([5, classes], &rng, scale: 2)
        let labels = (0..<5).map { _ in rng.nextInt(below: max(classes, 2)) }
        let r = kind.evaluate(logits: logits, labels: labels[...], wantGradient: true)
        for i in 0..<logits.count {
            var zp = logits, zm = logits
            zp.scalars[i] += Self.eps
            zm.scalars[i] -= Self.eps
            let num = (kind.evaluate(logits: zp, labels: labels[...], wantGradient: false).loss
                - kind.evaluate(logits: zm, labels: labels[...], wantGradient: false).loss) / Double(2 * Self.eps)
            expectClose(r.gradient.scalars[i], num, "\(kind) dz[\(i)]")
        }
    }

    @Test func lossValuesMatchDefinitions() {
        // softmax CE of logits [0, ln 3] with label 1: -log(3/4)
        let ce = LossKind.softmaxCrossEntropy.evaluate(
            logits: Tensor(shape: [1, 2], scalars: [0, Float(log(3.0))]), labels: [1][...], wantGradient: false)
        #expect(abs(ce.loss - (-log(0.75))) < 1e-6)
        #expect(ce.correct == 1)
        // BCE of logit 0 is log 2 whatever the label; a huge logit must not overflow
        let bce = LossKind.sigmoidBinaryCrossEntropy.evaluate(
            logits: Tensor(shape: [2, 1], scalars: [0, 200]), labels: [1, 0][...], wantGradient: false)
        #expect(abs(bce.loss - (log(2.0) + 200) / 2) < 1e-4)
        #expect(bce.loss.isFinite)
    }

    @Test func wholeModelGradient() {
        var rng = RandomSource(seed: 15)
        let model = Sequential(layers: [
            Dense(name: "fc1", inputSize: 6, outputSize: 5), Activation(name: "act1", kind: .tanh),
            Dense(name: "fc2", inputSize: 5, outputSize: 3),
        ], inputShape: [6], loss: .softmaxCrossEntropy)
        Initializer.xavier.initialize(model, rng: &rng)
        let x = randomTensor([4, 6], &rng)
        let labels = [0, 2, 1, 2]
        let r = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: true)
        model.backward(r.gradient)
        for p in model.parameters {
            let g = p.grad
            for i in 0..<p.value.count {
                let saved = p.value.scalars[i]
                p.value.scalars[i] = saved + Self.eps
                let lp = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: false).loss
                p.value.scalars[i] = saved - Self.eps
                let lm = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: false).loss
                p.value.scalars[i] = saved
                expectClose(g.scalars[i], (lp - lm) / Double(2 * Self.eps), "\(p.name)[\(i)]")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

import Testing
import TensorCore
import NN

/// Finite-difference checks of every hand-written backward pass.
///
/// Layers compute in Float; the reference differentiates the scalar `L = sum(c ⊙ f(x))` (random
/// `c`) by central differences with the sum accumulated in Double, and compares it with the
/// analytic gradient under a relative + absolute tolerance.
@Suite struct GradientTests {
    @Test func denseGradients() {
        var rng = RandomSource(seed: 11)
        let layer = Dense(name: "fc1", inputSize: 7, outputSize: 5)
        layer.weight.value = FiniteDifference.randomTensor([5, 7], &rng, scale: 0.5)
        layer.bias.value = FiniteDifference.randomTensor([5], &rng, scale: 0.5)
        FiniteDifference.check(layer, input: FiniteDifference.randomTensor([4, 7], &rng), rng: &rng)
    }

    @Test func denseFlattensHigherRankInput() {
        var rng = RandomSource(seed: 12)
        let layer = Dense(name: "fc1", inputSize: 12, outputSize: 3)
        layer.weight.value = FiniteDifference.randomTensor([3, 12], &rng, scale: 0.5)
        let x = FiniteDifference.randomTensor([2, 1, 3, 4], &rng)
        let y = layer.forward(x, training: true)
        #expect(y.shape == [2, 3])
        let dx = layer.backward(Tensor(shape: [2, 3], repeating: 1), needInputGrad: true)!
        #expect(dx.shape == [2, 1, 3, 4])
        FiniteDifference.check(layer, input: x, rng: &rng)
    }

    @Test(arguments: ActivationKind.allCases)
    func activationGradients(kind: ActivationKind) {
        var rng = RandomSource(seed: 13)
        var x = FiniteDifference.randomTensor([3, 6], &rng)
        // keep ReLU inputs away from the kink so central differences are valid
        for i in 0..<x.count where abs(x.scalars[i]) < 0.05 { x.scalars[i] = 0.3 }
        FiniteDifference.check(Activation(name: "act", kind: kind), input: x, rng: &rng)
    }

    @Test(arguments: [LossKind.softmaxCrossEntropy, .sigmoidBinaryCrossEntropy])
    func lossGradients(kind: LossKind) {
        var rng = RandomSource(seed: 14)
        let classes = kind == .softmaxCrossEntropy ? 4 : 1
        let logits = FiniteDifference.randomTensor([5, classes], &rng, scale: 2)
        let labels = (0..<5).map { _ in rng.nextInt(below: max(classes, 2)) }
        let r = kind.evaluate(logits: logits, labels: labels[...], wantGradient: true)
        for i in 0..<logits.count {
            var zp = logits, zm = logits
            zp.scalars[i] += FiniteDifference.eps
            zm.scalars[i] -= FiniteDifference.eps
            let num =
                (kind.evaluate(logits: zp, labels: labels[...], wantGradient: false).loss
                    - kind.evaluate(logits: zm, labels: labels[...], wantGradient: false).loss) / Double(2 * FiniteDifference.eps)
            FiniteDifference.expectClose(r.gradient.scalars[i], num, "\(kind) dz[\(i)]")
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
        let model = Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 6, outputSize: 5), Activation(name: "act1", kind: .tanh),
                Dense(name: "fc2", inputSize: 5, outputSize: 3),
            ], inputShape: [6], loss: .softmaxCrossEntropy)
        Initializer.xavier.initialize(model, rng: &rng)
        let x = FiniteDifference.randomTensor([4, 6], &rng)
        let labels = [0, 2, 1, 2]
        let r = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: true)
        model.backward(r.gradient)
        for p in model.parameters {
            let g = p.grad
            for i in 0..<p.value.count {
                let saved = p.value.scalars[i]
                p.value.scalars[i] = saved + FiniteDifference.eps
                let lp = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: false).loss
                p.value.scalars[i] = saved - FiniteDifference.eps
                let lm = model.loss.evaluate(logits: model.forward(x, training: true), labels: labels[...], wantGradient: false).loss
                p.value.scalars[i] = saved
                FiniteDifference.expectClose(g.scalars[i], (lp - lm) / Double(2 * FiniteDifference.eps), "\(p.name)[\(i)]")
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

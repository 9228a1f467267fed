import Testing
import Foundation
import TensorCore
import NN
import Training
@testable import Experiments

/// Adam against PyTorch's equations recomputed in Double, and the masking contract.
@Suite struct AdamTests {
    /// Three steps on fixed gradients, weight decay on the weight only, compared with the
    /// textbook recurrences evaluated in Double.
    @Test func matchesTheReferenceEquations() {
        let w = Parameter(name: "fc1.weight", value: Tensor(shape: [3], scalars: [0.5, -1, 2]), isPrunable: true)
        let b = Parameter(name: "fc1.bias", value: Tensor(shape: [1], scalars: [0.1]), isPrunable: false)
        let adam = Adam(parameters: [w, b], beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01)
        let grads: [[Float]] = [[0.1, -0.2, 0.3], [0.05, 0.0, -0.4], [-0.3, 0.2, 0.1]]
        var rw = [0.5, -1.0, 2.0], rb = 0.1
        var m = [0.0, 0.0, 0.0], v = [0.0, 0.0, 0.0], mb = 0.0, vb = 0.0
        for (t, g) in grads.enumerated() {
            w.grad = Tensor(shape: [3], scalars: g)
            b.grad = Tensor(shape: [1], scalars: [g[0]])
            adam.step(learningRate: 0.01)
            let c1 = 1 - pow(0.9, Double(t + 1)), c2 = 1 - pow(0.99, Double(t + 1))
            for j in 0..<3 {
                let gj = Double(g[j]) + 0.01 * rw[j]
                m[j] = 0.9 * m[j] + 0.1 * gj
                v[j] = 0.99 * v[j] + 0.01 * gj * gj
                rw[j] -= 0.01 * (m[j] / c1) / ((v[j] / c2).squareRoot() + 1e-8)
            }
            let gb = Double(g[0])  // no decay on the bias
            mb = 0.9 * mb + 0.1 * gb
            vb = 0.99 * vb + 0.01 * gb * gb
            rb -= 0.01 * (mb / c1) / ((vb / c2).squareRoot() + 1e-8)
        }
        for j in 0..<3 { #expect(abs(Double(w.value.scalars[j]) - rw[j]) < 1e-6, "w[\(j)]") }
        #expect(abs(Double(b.value.scalars[0]) - rb) < 1e-6)
    }

    /// A pruned weight and both of its moments stay exactly 0 through updates, masks applied
    /// to the state, and resets.
    @Test func maskedMomentsStayZero() {
        let w = Parameter(name: "fc1.weight", value: Tensor(shape: [4], scalars: [1, 2, 3, 4]), isPrunable: true)
        let adam = Adam(parameters: [w], weightDecay: 0.1)
        w.grad = Tensor(shape: [4], scalars: [1, 1, 1, 1])
        adam.step(learningRate: 0.1)
        #expect(adam.m[0].scalars.allSatisfy { $0 != 0 })
        w.setMask(Tensor(shape: [4], scalars: [1, 0, 1, 0]))
        adam.applyMasksToState()
        #expect(adam.m[0].scalars[1] == 0 && adam.v[0].scalars[3] == 0)
        for _ in 0..<5 {
            w.grad = Tensor(shape: [4], scalars: [0.5, -0.5, 0.5, -0.5])
            adam.step(learningRate: 0.1)
            #expect(w.value.scalars[1] == 0 && w.value.scalars[3] == 0)
            #expect(adam.m[0].scalars[1] == 0 && adam.v[0].scalars[1] == 0 && adam.m[0].scalars[3] == 0)
        }
        #expect(w.value.scalars[0] != 1 && w.value.scalars[2] != 3)
        adam.resetState()
        #expect(adam.t == 0 && adam.m[0].scalars.allSatisfy { $0 == 0 })
    }

    /// `training.optimizer` `adam` trains a real run through the whole pipeline.
    @Test func adamRunLearns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adam-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try ConfigLoader.decode(
            Data(EndToEndTests.mnistConfig(epochs: 1).utf8),
            overrides: ["training.optimizer=adam", "training.learning_rate=0.001"])
        let outcome = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        #expect(outcome.summary.testAccuracy > 0.8)
    }
}

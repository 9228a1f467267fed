import Testing
import TensorCore
import NN

/// The finite-difference harness shared by the gradient suites.
///
/// The scalar `L = sum(c ⊙ f(x))` (random `c`) is differentiated by central differences
/// (eps 1e-2) with sums in Double and compared with the analytic gradient under a
/// relative + absolute tolerance.
enum FiniteDifference {
    static let eps: Float = 1e-2

    static func randomTensor(_ shape: [Int], _ rng: inout RandomSource, scale: Double = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextNormal() * scale) })
    }

    static func weightedSum(_ y: Tensor, _ c: Tensor) -> Double {
        zip(y.scalars, c.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Failures point at `sourceLocation`, the caller's line.
    static func expectClose(
        _ analytic: Float, _ numeric: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let tol = 2e-2 * max(abs(numeric), abs(Double(analytic))) + 2e-3
        #expect(
            abs(Double(analytic) - numeric) <= tol, "\(what): analytic \(analytic) vs numeric \(numeric)", sourceLocation: sourceLocation)
    }

    /// Checks d(sum(c*layer(x)))/dx and /dparams for every entry, every forward pass in
    /// `training` mode and preceded by `reset` (which puts a random layer back on the same
    /// stream position, so each pass draws the same mask). Failures point at `sourceLocation`,
    /// the calling test's line.
    static func check(
        _ layer: Layer, input: Tensor, rng: inout RandomSource, training: Bool = true, reset: () -> Void = {},
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        func f(_ x: Tensor) -> Tensor {
            reset()
            return layer.forward(x, training: training)
        }
        let y = f(input)
        let c = randomTensor(y.shape, &rng)
        guard let dx = layer.backward(c, needInputGrad: true) else {
            Issue.record("\(layer.name) returned no input gradient", sourceLocation: sourceLocation)
            return
        }
        #expect(dx.shape == input.shape, sourceLocation: sourceLocation)
        let grads = layer.parameters.map(\.grad)
        for i in 0..<input.count {
            var xp = input, xm = input
            xp.scalars[i] += eps
            xm.scalars[i] -= eps
            let num =
                (weightedSum(f(xp), c) - weightedSum(f(xm), c)) / Double(2 * eps)
            expectClose(dx.scalars[i], num, "\(layer.name) dx[\(i)]", sourceLocation: sourceLocation)
        }
        for (p, g) in zip(layer.parameters, grads) {
            for i in 0..<p.value.count {
                let saved = p.value.scalars[i]
                p.value.scalars[i] = saved + eps
                let lp = weightedSum(f(input), c)
                p.value.scalars[i] = saved - eps
                let lm = weightedSum(f(input), c)
                p.value.scalars[i] = saved
                expectClose(g.scalars[i], (lp - lm) / Double(2 * eps), "\(p.name)[\(i)]", sourceLocation: sourceLocation)
            }
        }
    }
}

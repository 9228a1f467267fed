import TensorCore
import NN

/// Updates parameters from their gradients. Masks hold: after every update a masked
/// parameter's pruned entries, and the optimizer state kept for them, are exactly 0.
public protocol Optimizer: Checkpointable {
    var parameters: [Parameter] { get }
    /// The threads one update may split its element-wise passes over (a team of 1: the
    /// calling thread only).
    var team: WorkerTeam { get set }
    /// One update with learning rate `lr`, masks applied in the same pass.
    func step(learningRate lr: Double)
    /// Re-applies every parameter's mask to the optimizer state (call after masks change).
    func applyMasksToState()
    /// Forgets the state (momentum, moments), e.g. at the start of a retraining round.
    func resetState()
    /// Takes `parameters` (the model's after units were removed, same names in the same order)
    /// in place of the current ones; the state of a parameter named in `keeping` is gathered at
    /// the listed flat indices of the old one, any other parameter keeps its state as it is.
    func replaceParameters(_ parameters: [Parameter], keeping: [String: [Int]])
}

extension Tensor {
    /// The entries at flat `indices`, in order, as a rank-1 tensor shaped like `shape`.
    func gathered(_ indices: [Int], shape: [Int]) -> Tensor {
        let s = scalars
        return Tensor(shape: shape, scalars: indices.map { s[$0] })
    }
}

/// Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient (PyTorch's
/// `torch.optim.Adam(weight_decay=)`, not AdamW), biases undecayed:
///
///     g = grad + wd·w;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
///     w -= lr · (m / (1-β1^t)) / (√(v / (1-β2^t)) + ε)
///
/// Masked entries have `w`, `m` and `v` held at exactly 0.
public final class Adam: Optimizer {
    public private(set) var parameters: [Parameter]
    public var beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// The threads the update splits over (each entry's arithmetic is the same in any split).
    public var team = WorkerTeam(size: 1)
    /// First and second moments, one per parameter.
    public internal(set) var m: [Tensor]
    public internal(set) var v: [Tensor]
    /// Updates taken since the last reset (for the bias correction).
    public internal(set) var t = 0

    public init(
        parameters: [Parameter], beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0
    ) {
        self.parameters = parameters
        self.beta1 = Float(beta1)
        self.beta2 = Float(beta2)
        self.epsilon = Float(epsilon)
        self.weightDecay = Float(weightDecay)
        m = parameters.map { Tensor(shape: $0.value.shape) }
        v = parameters.map { Tensor(shape: $0.value.shape) }
    }

    public func step(learningRate lr: Double) {
        t += 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 - Float(Double(b1).power(t)), c2 = 1 - Float(Double(b2).power(t))
        let lr = Float(lr)
        let ones = Tensor(shape: [0])
        for (i, p) in parameters.enumerated() {
            let decay = p.isPrunable ? weightDecay : 0
            let masked = p.mask != nil
            let mask = p.mask ?? ones
            p.grad.scalars.withUnsafeBufferPointer { g in
                mask.scalars.withUnsafeBufferPointer { k in
                    p.value.scalars.withUnsafeMutableBufferPointer { w in
                        m[i].scalars.withUnsafeMutableBufferPointer { m1 in
                            v[i].scalars.withUnsafeMutableBufferPointer { m2 in
                                team.forEachRange(count: w.count) { range in
                                    for j in range {
                                        let gj = g[j] + decay * w[j]
                                        var a = b1 * m1[j] + (1 - b1) * gj
                                        var b = b2 * m2[j] + (1 - b2) * gj * gj
                                        var wj = w[j] - lr * (a / c1) / ((b / c2).squareRoot() + eps)
                                        if masked { a *= k[j]; b *= k[j]; wj *= k[j] }
                                        m1[j] = a
                                        m2[j] = b
                                        w[j] = wj
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func applyMasksToState() {
        for (i, p) in parameters.enumerated() {
            guard let mask = p.mask else { continue }
            Parameter.multiply(&m[i], by: mask)
            Parameter.multiply(&v[i], by: mask)
        }
    }

    public func replaceParameters(_ parameters: [Parameter], keeping: [String: [Int]]) {
        precondition(parameters.map(\.name) == self.parameters.map(\.name), "the parameters must keep their names and order")
        for (i, p) in parameters.enumerated() {
            guard let kept = keeping[p.name] else { continue }
            m[i] = m[i].gathered(kept, shape: p.value.shape)
            v[i] = v[i].gathered(kept, shape: p.value.shape)
        }
        self.parameters = parameters
    }

    public func resetState() {
        for i in m.indices {
            m[i].fill(0)
            v[i].fill(0)
        }
        t = 0
    }
}

extension Double {
    /// `self` to a non-negative integer power.
    func power(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= self }
        return r
    }
}

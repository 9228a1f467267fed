import TensorCore

/// Inverted dropout (Srivastava et al. 2014): in training each entry is zeroed with
/// probability `rate` and the rest scaled by `1 / (1 - rate)`; at evaluation the identity.
///
/// The mask of a training pass is a pure function of `seed`, the number of training passes
/// so far (`passes`) and the stream (0 on the master, k on its k-th data-parallel replica):
/// `RandomSource(seed: seed ^ mix(passes, stream))`, one uniform draw per entry in row-major
/// order, dropped when the draw is below `rate`. The session sets `seed` from the config's
/// seed (`seed ▶ "dropout" ▶ layer name`), replicas take the master's `seed` and `passes`
/// before each step, and checkpoints keep `passes`, so runs and resumed runs are repeatable.
public final class Dropout: Layer, Checkpointable {
    public let name: String
    public let rate: Double
    public var seed: UInt64 = 0
    public var passes: UInt64 = 0
    public let stream: UInt64
    private var replicasMade: UInt64 = 0
    /// The last training pass's multipliers (0 or 1/(1-rate)); empty after an identity pass.
    private var multipliers: [Float] = []

    public init(name: String, rate: Double, stream: UInt64 = 0) {
        precondition(rate >= 0 && rate < 1, "\(name): dropout rate must be in [0, 1), got \(rate)")
        self.name = name
        self.rate = rate
        self.stream = stream
    }

    public func replica() -> Layer {
        replicasMade += 1
        let d = Dropout(name: name, rate: rate, stream: replicasMade)
        d.seed = seed
        return d
    }

    /// Numbers the next replica 1 again: replicas rebuilt for a model whose layers changed
    /// take the streams of the ones they replace, so the masks go on as before.
    public func restartReplicaNumbering() { replicasMade = 0 }

    public func shareState(from master: Layer) {
        guard let m = master as? Dropout else { return }
        seed = m.seed
        passes = m.passes
    }

    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training, rate > 0 else {
            multipliers = []
            return x
        }
        var rng = RandomSource(seed: seed ^ (passes &* 0x9E37_79B9_7F4A_7C15) ^ (stream &* 0xBF58_476D_1CE4_E5B9))
        passes &+= 1
        let keep = Float(1 / (1 - rate))
        multipliers = (0..<x.count).map { _ in rng.nextUniform() < rate ? 0 : keep }
        var y = x
        Parameter.multiply(&y, by: Tensor(shape: x.shape, scalars: multipliers))
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        guard needInputGrad else { return nil }
        guard !multipliers.isEmpty else { return dy }
        precondition(dy.count == multipliers.count, "\(name): gradient \(dy.shape) does not match the forward pass")
        var dx = dy
        Parameter.multiply(&dx, by: Tensor(shape: dy.shape, scalars: multipliers))
        return dx
    }

    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/passes", [Int64(bitPattern: passes)])
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        passes = UInt64(bitPattern: Int64(try archive.int("\(prefix)/passes")))
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int { inputShape.reduce(1, *) }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        needInputGrad ? inputShape.reduce(1, *) : 0
    }
}

import Testing
import TensorCore
import NN

/// Batch norm, dropout and global average pooling: finite differences (the shared harness),
/// naive Double references, running statistics, determinism of dropout masks.
@Suite struct BatchNormTests {
    func randomBN(channels: Int, _ rng: inout RandomSource) -> BatchNorm {
        let bn = BatchNorm(name: "bn1", channels: channels)
        bn.gamma.value = FiniteDifference.randomTensor([channels], &rng, scale: 1)
        bn.beta.value = FiniteDifference.randomTensor([channels], &rng, scale: 1)
        bn.runningMean = FiniteDifference.randomTensor([channels], &rng, scale: 1)
        bn.runningVar = Tensor(shape: [channels], scalars: (0..<channels).map { _ in Float(0.5 + rng.nextUniform()) })
        return bn
    }

    @Test(arguments: [[3, 2, 4, 4], [5, 3]])
    func batchNormGradientsWithBatchStatistics(_ shape: [Int]) {
        var rng = RandomSource(seed: 31)
        let bn = randomBN(channels: shape[1], &rng)
        FiniteDifference.check(bn, input: FiniteDifference.randomTensor(shape, &rng), rng: &rng)
    }

    @Test(arguments: [[2, 3, 3, 3], [4, 2]])
    func batchNormGradientsWithRunningStatistics(_ shape: [Int]) {
        var rng = RandomSource(seed: 32)
        let bn = randomBN(channels: shape[1], &rng)
        FiniteDifference.check(bn, input: FiniteDifference.randomTensor(shape, &rng), rng: &rng, training: false)
    }

    /// Per channel over (B, H, W), in Double: mean, biased variance, then the affine map.
    @Test func batchNormForwardMatchesNaiveLoops() {
        var rng = RandomSource(seed: 33)
        let (b, c, h, w) = (3, 2, 2, 3)
        let bn = randomBN(channels: c, &rng)
        let x = FiniteDifference.randomTensor([b, c, h, w], &rng, scale: 3)
        let y = bn.forward(x, training: true)
        for ch in 0..<c {
            var idx: [Int] = []
            for n in 0..<b { for t in 0..<(h * w) { idx.append((n * c + ch) * h * w + t) } }
            let v = idx.map { Double(x.scalars[$0]) }
            let mean = v.reduce(0, +) / Double(v.count)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
            for i in idx {
                let ref =
                    Double(bn.gamma.value.scalars[ch]) * (Double(x.scalars[i]) - mean) / (variance + 1e-5).squareRoot()
                    + Double(bn.beta.value.scalars[ch])
                #expect(abs(Double(y.scalars[i]) - ref) <= 1e-4 * max(1, abs(ref)), "y[\(i)] \(y.scalars[i]) vs \(ref)")
            }
        }
    }

    /// `running = 0.9 running + 0.1 batch` with the unbiased variance, and the statistics of two
    /// halves pooled equal those of the whole batch.
    @Test func runningStatisticsFollowMomentumAndPoolOverParts() {
        var rng = RandomSource(seed: 34)
        let x = FiniteDifference.randomTensor([6, 2, 3, 3], &rng, scale: 2)
        let whole = BatchNorm(name: "bn1", channels: 2)
        _ = whole.forward(x, training: true)
        whole.commitStatistics()
        let n = 6.0 * 9
        for ch in 0..<2 {
            var v: [Double] = []
            for s in 0..<6 { for t in 0..<9 { v.append(Double(x.scalars[(s * 2 + ch) * 9 + t])) } }
            let mean = v.reduce(0, +) / n
            let unbiased = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
            #expect(abs(Double(whole.runningMean.scalars[ch]) - 0.1 * mean) < 1e-6)
            #expect(abs(Double(whole.runningVar.scalars[ch]) - (0.9 + 0.1 * unbiased)) < 1e-5)
        }
        let a = BatchNorm(name: "bn1", channels: 2), b = BatchNorm(name: "bn1", channels: 2)
        let half = 2 * 9 * 3
        _ = a.forward(Tensor(shape: [3, 2, 3, 3], scalars: Array(x.scalars[0..<half])), training: true)
        _ = b.forward(Tensor(shape: [3, 2, 3, 3], scalars: Array(x.scalars[half...])), training: true)
        a.commitStatistics(pooledWith: [b])
        for ch in 0..<2 {
            #expect(abs(a.runningMean.scalars[ch] - whole.runningMean.scalars[ch]) < 1e-6)
            #expect(abs(a.runningVar.scalars[ch] - whole.runningVar.scalars[ch]) < 1e-5)
        }
        #expect(b.batchCount == 0)
    }

    @Test func batchNormStateRoundTripsThroughAnArchive() throws {
        var rng = RandomSource(seed: 35)
        let bn = randomBN(channels: 3, &rng)
        let archive = StateArchive()
        bn.save(into: archive, prefix: "model/bn1")
        let other = BatchNorm(name: "bn1", channels: 3)
        try other.restore(from: archive, prefix: "model/bn1")
        #expect(other.runningMean == bn.runningMean && other.runningVar == bn.runningVar)
    }

    /// The mask is fixed by resetting the stream position before each pass.
    @Test func dropoutGradientsWithAFixedMask() {
        var rng = RandomSource(seed: 36)
        let d = Dropout(name: "drop1", rate: 0.4)
        d.seed = 99
        FiniteDifference.check(d, input: FiniteDifference.randomTensor([3, 2, 2, 2], &rng), rng: &rng) { d.passes = 5 }
    }

    @Test func dropoutIsIdentityAtEvaluationAndRepeatableInTraining() {
        var rng = RandomSource(seed: 37)
        let x = FiniteDifference.randomTensor([50, 40], &rng)
        let d = Dropout(name: "drop1", rate: 0.25)
        d.seed = 7
        #expect(d.forward(x, training: false) == x)
        let y1 = d.forward(x, training: true), y2 = d.forward(x, training: true)
        #expect(y1 != y2, "a new mask each pass")
        let zeros = y1.scalars.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / Double(x.count) - 0.25) < 0.03, "dropped \(zeros) of \(x.count)")
        for (a, b) in zip(y1.scalars, x.scalars) where a != 0 { #expect(abs(a - b / 0.75) <= 1e-6 * max(1, abs(a))) }
        let again = Dropout(name: "drop1", rate: 0.25)
        again.seed = 7
        #expect(again.forward(x, training: true) == y1, "same seed and pass: same mask")
        let replica = d.replica()
        replica.shareState(from: again)
        #expect(replica.forward(x, training: true) != again.forward(x, training: true), "a replica draws its own stream")
    }

    @Test func globalAvgPoolGradientsAndValues() {
        var rng = RandomSource(seed: 38)
        let g = GlobalAvgPool(name: "gap1")
        let x = FiniteDifference.randomTensor([2, 3, 4, 5], &rng)
        FiniteDifference.check(g, input: x, rng: &rng)
        let y = g.forward(x, training: false)
        #expect(y.shape == [2, 3])
        for i in 0..<6 {
            let ref = (0..<20).reduce(0.0) { $0 + Double(x.scalars[i * 20 + $1]) } / 20
            #expect(abs(Double(y.scalars[i]) - ref) < 1e-5)
        }
    }
}

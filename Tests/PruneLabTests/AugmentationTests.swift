import Testing
import Foundation
import TensorCore
import Training
import Datasets
@testable import Experiments

/// `data.normalize` and `data.augment` against numpy, and augmentation across a resume.
@Suite struct AugmentationTests {
    static let numpy = ArrayDataTests.numpy

    /// PruneLab's generator re-implemented from its documentation (`RandomSource`,
    /// `Augmentation`): SplitMix64 seeding, xoshiro256**, `derived`, Lemire's bounded integers,
    /// 53-bit uniforms; then the documented per-sample draws applied with np.pad and slicing.
    static let reference = """
        import sys, numpy as np
        M = (1 << 64) - 1
        def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
        class Source:
            def __init__(self, seed):
                self.s, x = [], seed
                for _ in range(4):
                    x = (x + 0x9E3779B97F4A7C15) & M
                    z = x
                    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
                    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
                    self.s.append(z ^ (z >> 31))
            def derived(self, purpose):
                h = 0xcbf29ce484222325
                for b in purpose.encode(): h = ((h ^ b) * 0x100000001B3) & M
                return Source(self.s[0] ^ h ^ ((self.s[2] * 0x9E3779B97F4A7C15) & M))
            def next(self):
                s0, s1, s2, s3 = self.s
                out = (rotl((s1 * 5) & M, 7) * 9) & M
                t = (s1 << 17) & M
                s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45)
                self.s = [s0, s1, s2, s3]
                return out
            def below(self, n):
                m = self.next() * n
                if (m & M) < n:
                    t = ((1 << 64) - n) % n
                    while (m & M) < t: m = self.next() * n
                return m >> 64
            def uniform(self): return (self.next() >> 11) * 2.0 ** -53
        d, seed, pad, flip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
        rng = np.random.default_rng(9)
        x = rng.standard_normal((7, 2, 5, 6)).astype(np.float32)
        x.astype("<f4").tofile(f"{d}/batch.bin")
        g = Source(seed).derived("augment")
        out = []
        for s in x:
            dy, dx = (g.below(2 * pad + 1), g.below(2 * pad + 1)) if pad > 0 else (pad, pad)
            flipped = flip and g.uniform() < 0.5
            crop = np.pad(s, ((0, 0), (pad, pad), (pad, pad)))[:, dy:dy + 5, dx:dx + 6]
            out.append(crop[:, :, ::-1] if flipped else crop)
        np.stack(out).astype("<f4").tofile(f"{d}/augmented.bin")
        """

    @Test(
        .enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"),
        arguments: [(11, 3, true), (2, 1, false), (5, 0, true)])
    func cropsAndFlipsEqualTheNumpyReference(seed: Int, pad: Int, flip: Bool) throws {
        try withScratchFolder("augment") { dir in
            _ = try TestSupport.python(["-c", Self.reference, dir.path, "\(seed)", "\(pad)", flip ? "1" : "0"])
            var batch = Tensor(shape: [7, 2, 5, 6], scalars: try ArrayDataTests.floats(dir.appendingPathComponent("batch.bin")))
            let original = batch
            var augmentation = Augmentation(pad: pad, flip: flip, rng: RandomSource(seed: UInt64(seed)).derived("augment"))
            augmentation.apply(to: &batch)
            #expect(batch.scalars == (try ArrayDataTests.floats(dir.appendingPathComponent("augmented.bin"))))
            #expect(batch != original, "the augmentation changed nothing")
            // through the batcher, for the rows an epoch order picks
            var batcher = Batcher(images: original, labels: Array(0..<7), batchSize: 7, shuffle: false, rng: RandomSource(seed: 1))
            batcher.augmentation = Augmentation(pad: pad, flip: flip, rng: RandomSource(seed: UInt64(seed)).derived("augment"))
            #expect(batcher.augmentedBatch(order: Array(0..<7), range: 0..<7) == batch)
        }
    }

    /// No pad and no flip: samples unchanged and no draw taken.
    @Test func nothingToDoDrawsNothing() {
        var batch = Tensor(shape: [2, 1, 2, 3], scalars: (0..<12).map { Float($0) })
        let start = RandomSource(seed: 3)
        var augmentation = Augmentation(pad: 0, flip: false, rng: start)
        augmentation.apply(to: &batch)
        #expect(batch.scalars == (0..<12).map { Float($0) })
        #expect(augmentation.rng.state == start.state)
    }

    /// The session takes its augmentation stream from `seed ▶ "augment"`, and only when enabled.
    @Test func sessionSeedsTheAugmentationStream() throws {
        let on = try RunFolderTests.config(epochs: 1)
        var config = on
        config.data.augment.enabled = true
        config.data.augment.pad = 2
        let data = try config.data.load()
        let session = try TrainingSession(config: config, data: data)
        let augmentation = try #require(session.trainer.batcher.augmentation)
        #expect(augmentation.pad == 2 && augmentation.flip)
        #expect(augmentation.rng.state == RandomSource(seed: config.seed).derived("augment").state)
        #expect(try TrainingSession(config: on, data: data).trainer.batcher.augmentation == nil)
    }

    /// A small conv net trained with augmentation, interrupted after steps 25 and 47 (an epoch
    /// is 20 steps, so it resumes from the checkpoints of steps 20 and 40), writes exactly what
    /// an uninterrupted run writes; and the augmentation does change the result.
    @Test func resumedAugmentedRunIsBitIdentical() throws {
        let text = ConvRunTests.config(#"{"method": "dense"}"#)
        let config = try ConfigLoader.decode(
            Data(text.utf8),
            overrides: ["data.augment.enabled=true", "data.augment.pad=2", "training.threads=2", "training.epochs=3"])
        try RunFolderTests.expectResumeIsExact(config: config, stops: [25, 47])
        let plain = RunFolderTests.tempDir(), augmented = RunFolderTests.tempDir()
        defer { try? FileManager.default.removeItem(at: plain); try? FileManager.default.removeItem(at: augmented) }
        var short = config
        short.training.epochs = 1
        _ = try Runner.run(short, options: RunOptions(outDir: augmented.path, progress: false))
        short.data.augment.enabled = false
        _ = try Runner.run(short, options: RunOptions(outDir: plain.path, progress: false))
        let a = try HDF5Arrays.all(augmented.appendingPathComponent("model.h5").path)
        let b = try HDF5Arrays.all(plain.appendingPathComponent("model.h5").path)
        #expect(a != b, "augmentation left the trained weights unchanged")
    }

    /// Writes uint8 NHWC images (`X_train.npy` [6, 3, 4, 3], `X_test.npy` [2, 3, 4, 3]) and
    /// labels, and numpy's standardised inputs channels first: with the training set's
    /// per-channel mean and population std (`train-*.bin`), and with the given ones
    /// (`given-*.bin`); computed in float64 from the float32 inputs, stored as float32.
    static let normalizeWriter = """
        import sys, numpy as np
        d = sys.argv[1]
        rng = np.random.default_rng(8)
        xtr = rng.integers(0, 256, (6, 3, 4, 3), dtype=np.uint8); xte = rng.integers(0, 256, (2, 3, 4, 3), dtype=np.uint8)
        for n, a in [("X_train", xtr), ("X_test", xte), ("y_train", np.arange(6) % 2), ("y_test", np.array([0, 1]))]:
            np.save(f"{d}/{n}.npy", a)
        f = lambda x: (x.astype(np.float32) / np.float32(255)).astype(np.float64)
        mean, std = f(xtr).mean(axis=(0, 1, 2)), f(xtr).std(axis=(0, 1, 2))
        given_mean, given_std = np.array([0.5, 0.25, 0.125]), np.array([0.2, 0.3, 0.4])
        for tag, m, s in [("train", mean, std), ("given", given_mean, given_std)]:
            for n, x in [("train", xtr), ("test", xte)]:
                ((f(x) - m) / s).astype(np.float32).transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/{tag}-{n}.bin")
        """

    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"))
    func normalizeEqualsNumpy() throws {
        try withScratchFolder("normalize") { dir in
            _ = try TestSupport.python(["-c", Self.normalizeWriter, dir.path])
            for (tag, setting) in [("train", #""train""#), ("given", #"{"mean": [0.5, 0.25, 0.125], "std": [0.2, 0.3, 0.4]}"#)] {
                let text =
                    #"{"data": {"format": "npy", "dir": "\#(dir.path)", "layout": "nhwc", "normalize": \#(setting)}, "model": {"preset": "lenet-300-100"}}"#
                let split = try ConfigLoader.decode(Data(text.utf8)).data.load()
                for (set, name) in [(split.train, "train"), (split.test, "test")] {
                    let want = try ArrayDataTests.floats(dir.appendingPathComponent("\(tag)-\(name).bin"))
                    let worst = zip(set.images.scalars, want).map { abs($0 - $1) }.max() ?? 1
                    // given statistics: the same float64 formula, so the same float32; fitted ones
                    // may differ from numpy's pairwise sums in the last bits of the mean
                    #expect(tag == "given" ? set.images.scalars == want : worst <= 1e-6, "\(tag) \(name): worst difference \(worst)")
                }
                #expect(split.normalization != nil)
            }
        }
    }

    /// Settings that cannot standardise the inputs fail in one line naming the key.
    @Test func badNormalizeSettingsAreNamed() throws {
        let base = { (n: String) in #"{"data": {"format": "idx", "dir": "d", "normalize": \#(n)}, "model": {"preset": "lenet-300-100"}}"# }
        let cases: [(String, String)] = [
            (#""mean""#, #"key 'data.normalize': must be "none", "train" or {"mean": [...], "std": [...]}; got "mean""#),
            (#"{"mean": [0.1], "std": [0]}"#, "key 'data.normalize.std': must be > 0 and finite, got 0.0"),
            (#"{"mean": [0.1, 0.2], "std": [1]}"#, "key 'data.normalize': needs one mean and one std per channel, got 2 and 1"),
            (#"{"mean": [0.1], "sd": [1]}"#, "key 'data.normalize.sd': unknown key; known keys here: mean, std"),
        ]
        for (setting, expected) in cases {
            #expect(thrownMessage { _ = try ConfigLoader.decode(Data(base(setting).utf8)) } == expected)
        }
        // three channels given for MNIST's one
        let config = try RunFolderTests.config()
        var three = config
        three.data.normalize = .given(mean: [0, 0, 0], std: [1, 1, 1])
        #expect(
            thrownMessage { _ = try three.data.load() }
                == "key 'data.normalize': gives 3 means and stds but the inputs have 1 channel(s)")
        #expect(
            thrownMessage { _ = try ConfigLoader.decode(Data(base(#""none""#).utf8), overrides: ["data.augment.pad=-1"]) }
                == "key 'data.augment.pad': must be >= 0, got -1")
        var wide = config
        wide.data.augment.enabled = true
        wide.data.augment.pad = 29
        let data = try wide.data.load()
        #expect(
            thrownMessage { _ = try TrainingSession(config: wide, data: data) }
                == "key 'data.augment.pad': must be at most the images' height and width ([1, 28, 28]), got 29")
    }
}

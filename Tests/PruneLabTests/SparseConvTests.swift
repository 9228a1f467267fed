import Foundation
import Testing
import TensorCore
import NN
@testable import Experiments

/// The direct sparse convolution of masked `Conv2D` layers against brute-force loops and the
/// im2col + SGEMM path on the same masked weights (padding, stride, one input channel, random
/// masks at several densities, every instruction-set path) and against finite differences.
@Suite struct SparseConvTests {
    struct Shape: CustomStringConvertible, Sendable {
        var inC: Int, outC: Int, kernel: Int, stride: Int, padding: Int, height: Int, width: Int
        var description: String { "\(inC)->\(outC) k\(kernel) s\(stride) p\(padding) \(height)x\(width)" }
    }

    static let shapes = [
        Shape(inC: 1, outC: 4, kernel: 5, stride: 1, padding: 0, height: 28, width: 28),  // LeNet-5's conv1
        Shape(inC: 20, outC: 10, kernel: 5, stride: 1, padding: 0, height: 12, width: 12),  // conv2-like
        Shape(inC: 3, outC: 5, kernel: 3, stride: 1, padding: 1, height: 9, width: 7),
        Shape(inC: 2, outC: 3, kernel: 3, stride: 2, padding: 1, height: 9, width: 10),
        Shape(inC: 4, outC: 6, kernel: 4, stride: 3, padding: 2, height: 11, width: 13),
        Shape(inC: 1, outC: 2, kernel: 2, stride: 2, padding: 0, height: 7, width: 8),
        Shape(inC: 2, outC: 3, kernel: 2, stride: 3, padding: 1, height: 10, width: 8),  // stride > kernel: skipped inputs
    ]

    static func conv(_ s: Shape, density: Double, rng: inout RandomSource) -> Conv2D {
        let c = Conv2D(
            name: "conv1", inChannels: s.inC, outChannels: s.outC, kernel: s.kernel, stride: s.stride, padding: s.padding)
        c.weight.value = FiniteDifference.randomTensor(c.weight.value.shape, &rng, scale: 0.3)
        c.bias.value = FiniteDifference.randomTensor([s.outC], &rng, scale: 0.3)
        var m = Tensor(shape: c.weight.value.shape)
        for j in 0..<m.count where rng.nextUniform() < density { m.scalars[j] = 1 }
        let taps = s.inC * s.kernel * s.kernel
        if density > 0 && density < 1 { for j in 0..<taps { m.scalars[j] = 0 } }  // an empty filter
        c.weight.setMask(m)
        return c
    }

    /// Brute-force convolution by its definition: output, input gradient, weight gradient
    /// (every entry) and bias gradient, in Double.
    static func reference(_ c: Conv2D, x: Tensor, dy: Tensor) -> (y: [Float], dx: [Float], gw: [Float], gb: [Float]) {
        let b = x.shape[0], ci = c.inChannels, h = x.shape[2], w = x.shape[3], k = c.kernel, s = c.stride, p = c.padding
        let co = c.outChannels, oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        let wt = c.weight.value.scalars
        var y = [Double](repeating: 0, count: b * co * oh * ow), dx = [Double](repeating: 0, count: x.count)
        var gw = [Double](repeating: 0, count: wt.count), gb = [Double](repeating: 0, count: co)
        for n in 0..<b {
            for o in 0..<co {
                for r in 0..<oh {
                    for q in 0..<ow {
                        let yi = ((n * co + o) * oh + r) * ow + q
                        var sum = Double(c.bias.value.scalars[o])
                        let g = Double(dy.scalars[yi])
                        gb[o] += g
                        for cc in 0..<ci {
                            for i in 0..<k {
                                for j in 0..<k {
                                    let ih = r * s - p + i, iw = q * s - p + j
                                    guard ih >= 0 && ih < h && iw >= 0 && iw < w else { continue }
                                    let xi = ((n * ci + cc) * h + ih) * w + iw, wi = ((o * ci + cc) * k + i) * k + j
                                    sum += Double(wt[wi]) * Double(x.scalars[xi])
                                    dx[xi] += Double(wt[wi]) * g
                                    gw[wi] += Double(x.scalars[xi]) * g
                                }
                            }
                        }
                        y[yi] = sum
                    }
                }
            }
        }
        return (y.map(Float.init), dx.map(Float.init), gw.map(Float.init), gb.map(Float.init))
    }

    /// Forward, input, weight (at live entries; pruned ones exactly 0) and bias gradients of the
    /// sparse path equal brute force and the dense masked path, on every ISA path.
    @Test(arguments: ["avx512", "avx2", "portable"])
    func sparseMatchesDenseAndBruteForce(isa: String) {
        SparseKernelISA.force(isa)
        defer { SparseKernelISA.force(nil) }
        var rng = RandomSource(seed: 31)
        for shape in Self.shapes {
            for density in [0.0, 0.1, 0.5, 1.0] {
                let c = Self.conv(shape, density: density, rng: &rng)
                let x = FiniteDifference.randomTensor([3, shape.inC, shape.height, shape.width], &rng)
                let o = c.outputShape(for: Array(x.shape.dropFirst()))
                let dy = FiniteDifference.randomTensor([3] + o, &rng)
                let ref = Self.reference(c, x: x, dy: dy)
                c.kernelPolicy = .dense
                let y0 = c.forward(x, training: true)
                let dx0 = c.backward(dy, needInputGrad: true)!
                let gw0 = c.weight.grad.scalars, gb0 = c.bias.grad.scalars
                c.kernelPolicy = .sparse
                let y1 = c.forward(x, training: true)
                #expect(c.lastKernel == .sparse)
                let dx1 = c.backward(dy, needInputGrad: true)!
                let mask = c.weight.mask!.scalars
                let live = { (g: [Float]) in zip(g, mask).map { $1 != 0 ? $0 : 0 } }
                let what = "\(shape) density \(density) \(isa)"
                let tol: Float = 1e-4
                for (name, a, b, r) in [
                    ("y", y0.scalars, y1.scalars, ref.y), ("dx", dx0.scalars, dx1.scalars, ref.dx),
                    ("gw", live(gw0), c.weight.grad.scalars, live(ref.gw)), ("gb", gb0, c.bias.grad.scalars, ref.gb),
                ] {
                    #expect(a.count == b.count && b.count == r.count, "\(name) \(what)")
                    #expect(SparseKernelTests.maxRelativeError(a, b) < tol, "\(name) dense vs sparse \(what)")
                    #expect(SparseKernelTests.maxRelativeError(r, b) < tol, "\(name) brute force vs sparse \(what)")
                }
                #expect(zip(c.weight.grad.scalars, mask).allSatisfy { $1 != 0 || $0 == 0 }, "pruned gw \(what)")
                // no input gradient asked: the weight gradient is the same
                _ = c.forward(x, training: true)
                #expect(c.backward(dy, needInputGrad: false) == nil)
                #expect(SparseKernelTests.maxRelativeError(live(ref.gw), c.weight.grad.scalars) < tol, "gw alone \(what)")
            }
        }
    }

    @Test(arguments: [2, 3, 4])  // stride 1 padded, stride 2 padded, stride 3 padded
    func finiteDifferencesOnSparsePath(shapeIndex: Int) {
        var rng = RandomSource(seed: 4)
        var s = Self.shapes[shapeIndex]
        s.inC = min(s.inC, 2)
        s.outC = min(s.outC, 3)
        let c = Self.conv(s, density: 0.5, rng: &rng)
        c.kernelPolicy = .sparse
        FiniteDifference.check(c, input: FiniteDifference.randomTensor([2, s.inC, s.height, s.width], &rng), rng: &rng)
        #expect(c.lastKernel == .sparse)
    }

    /// Any number of positions runs sparse (the direct convolution has no multiple-of-16 rule),
    /// `auto` runs sparse at or below its density (and at any density with at most
    /// `directConvTaps` taps per output) and `dense` never.
    @Test func policyChoosesTheDirectConvolution() {
        var rng = RandomSource(seed: 6)
        let long = Shape(inC: 2, outC: 2, kernel: 5, stride: 1, padding: 2, height: 7, width: 7)  // 50 taps, 49 positions
        let short = Shape(inC: 1, outC: 2, kernel: 5, stride: 1, padding: 0, height: 9, width: 9)  // 25 taps, 25 positions
        for (shape, policy, density, expected) in [
            (long, KernelPolicy.sparse, 0.2, KernelKind.sparse), (long, .auto, 0.2, .sparse), (long, .auto, 0.9, .dense),
            (long, .dense, 0.2, .dense), (short, .auto, 0.9, .sparse), (short, .auto, 1.0, .sparse), (short, .dense, 0.9, .dense),
        ] {
            let x = FiniteDifference.randomTensor([2, shape.inC, shape.height, shape.width], &rng)
            let c = Self.conv(shape, density: density, rng: &rng)
            c.kernelPolicy = policy
            _ = c.forward(x, training: true)
            #expect(c.lastKernel == expected, "\(policy) at \(density), \(shape.inC * 25) taps")
        }
        let x = FiniteDifference.randomTensor([2, 1, 7, 7], &rng)
        let unmasked = Conv2D(name: "c", inChannels: 1, outChannels: 2, kernel: 3)
        unmasked.kernelPolicy = .sparse
        _ = unmasked.forward(x, training: true)
        #expect(unmasked.lastKernel == .dense)
    }

    /// A new input size rebuilds the plan, and inference passes (`training: false`) run the
    /// same sparse forward.
    @Test func inputSizeChangesAndInference() {
        var rng = RandomSource(seed: 10)
        let c = Self.conv(Self.shapes[3], density: 0.4, rng: &rng)
        for (h, w) in [(9, 10), (6, 5), (9, 10)] {
            let x = FiniteDifference.randomTensor([2, 2, h, w], &rng)
            c.kernelPolicy = .dense
            let y0 = c.forward(x, training: false)
            c.kernelPolicy = .sparse
            let y1 = c.forward(x, training: false)
            #expect(c.lastKernel == .sparse)
            #expect(y1.shape == y0.shape)
            #expect(SparseKernelTests.maxRelativeError(y0.scalars, y1.scalars) < 1e-5, "\(h)x\(w)")
        }
    }

    /// `measured` times both kernels once per key, records the measurement and follows it.
    @Test func measuredPolicyRecordsItsChoice() {
        var rng = RandomSource(seed: 8)
        let c = Self.conv(Self.shapes[1], density: 0.1, rng: &rng)
        c.kernelPolicy = .measured
        let x = FiniteDifference.randomTensor([4, 20, 12, 12], &rng)
        _ = c.forward(x, training: true)
        _ = c.forward(x, training: true)
        let log = c.kernelChoices.measurements
        #expect(log.count == 1)
        #expect(log.first.map { $0.rows == 10 && $0.cols == 500 && $0.denseSeconds > 0 && $0.sparseSeconds > 0 } == true)
        #expect(log.first?.choice == c.lastKernel)
    }
}

/// Short masked LeNet-5 trainings: the sparse kernels train like SGEMM, and `auto` records in
/// `kernels.csv` the step its convolutions switched to the direct sparse convolution.
@Suite struct SparseConvRunTests {
    func run(kernel: String) throws -> (dir: String, summary: [String: String], kernels: [[String: String]]) {
        let json = """
            {"name": "lenet5-kernels", "seed": 3,
             "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 400, "test_limit": 200},
             "model": {"preset": "lenet-5"},
             "training": {"epochs": 1, "batch_size": 50, "learning_rate": 0.02, "momentum": 0.9, "kernel": "\(kernel)"},
             "pruning": {"method": "dynamic", "target_sparsity": 0.9,
              "dynamic": {"criterion": "magnitude", "cubic": {"start": "1it", "end": "3it", "every": "1it", "max_per_check": 0.9}}}}
            """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-sparseconv-\(UUID().uuidString)").path
        _ = try Runner.run(try ConfigLoader.decode(Data(json.utf8)), options: RunOptions(outDir: dir, progress: false))
        let runs = ConvRunTests()
        return (dir, try #require(try runs.csv("\(dir)/summary.csv").first), try runs.csv("\(dir)/kernels.csv"))
    }

    @Test func sparseAndAutoTrainLikeTheDenseKernel() throws {
        let dense = try run(kernel: "dense"), sparse = try run(kernel: "sparse"), auto = try run(kernel: "auto")
        defer { for d in [dense.dir, sparse.dir, auto.dir] { try? FileManager.default.removeItem(atPath: d) } }
        for layer in ["conv1", "conv2"] {
            #expect(dense.kernels.filter { $0["layer"] == layer }.allSatisfy { $0["kernel"] == "dense" })
            for (run, policy) in [(sparse, "sparse"), (auto, "auto")] {
                let switched = try #require(run.kernels.first { $0["layer"] == layer && $0["kernel"] == "sparse" }, "\(policy) \(layer)")
                #expect(switched["policy"] == policy)
                // conv1 (25 taps) runs the direct convolution from its first mask; conv2 from density 0.4
                let limit = policy == "auto" && layer == "conv2" ? 0.4 : 1.0
                #expect(Double(switched["density"] ?? "").map { $0 <= limit } == true)
            }
        }
        // the same training up to float summation order
        for run in [sparse, auto] {
            #expect(dense.summary["sparsity"] == run.summary["sparsity"])
            let a = try #require(Double(dense.summary["test_loss"] ?? "")), b = try #require(Double(run.summary["test_loss"] ?? ""))
            #expect(abs(a - b) <= 1e-3 * max(1, abs(a)), "test loss \(a) vs \(b)")
            let p = try #require(Double(dense.summary["test_accuracy"] ?? "")), q = try #require(Double(run.summary["test_accuracy"] ?? ""))
            #expect(abs(p - q) <= 0.01)
        }
    }
}

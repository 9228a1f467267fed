import Testing
import Foundation
import TensorCore
import NN
import Quantization
@testable import Experiments

/// Every number read from a model file is checked: a NaN or infinity (set by h5py, an
/// independent writer, into files PruneLab wrote) is a one-line error naming the file, the layer
/// and the position, as are masks other than 0/1, negative variances and scales, and CSR
/// offsets that go backwards; `prunelab quantize` on such a file exits 1 and leaves no file.
@Suite struct ModelFileInputTests {
    /// `QuantizationTests.model()` (fc1 6 -> 5 masked, fc2 5 -> 3) with a batch norm on fc1's output.
    static func model(seed: UInt64 = 5) -> Sequential {
        let m = QuantizationTests.model(seed: seed)
        return Sequential(
            layers: [m.layers[0], BatchNorm(name: "bn1", channels: 5), m.layers[1], m.layers[2]], inputShape: [6],
            loss: .softmaxCrossEntropy)
    }

    /// Writes `name` (dense, CSR or quantized) of `model()` into `dir`, lets h5py run `edit` on
    /// the open file `f`, and returns what loading it into a fresh model throws (nil: it loads).
    static func loadEdited(_ format: ModelFormat, _ edit: String, in dir: URL) throws -> String? {
        let path = dir.appendingPathComponent("\(format.rawValue).h5").path
        let m = model()
        switch format {
        case .dense: try ModelFiles.writeDense(model: m, configJSON: "{}", path: path)
        case .csr: try ModelFiles.writeSparse(model: m, configJSON: "{}", path: path)
        case .quantized:
            _ = try QuantizedModelFile.write(model: m, spec: QuantizationSpec(bits: 4, perChannel: true), configJSON: "{}", path: path)
        }
        let script = "import sys, h5py, numpy as np\nf = h5py.File(sys.argv[1], 'r+')\n\(edit)\nf.close()\nprint('ok')"
        #expect(try TestSupport.python(["-c", script, path]).hasPrefix("ok"))
        do {
            try ModelFiles.load(path: path, into: model(seed: 9))
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// h5py's edit of one dataset: `d[...] = a` after `a` was changed by `change`.
    static func edit(_ dataset: String, _ change: String) -> String {
        "d = f['\(dataset)']; a = d[()]; \(change); d[...] = a"
    }

    @Test func nonFiniteAndOutOfRangeNumbersAreNamedInEveryFormat() throws {
        try HDF5WriterTests.requireH5py()
        let dir = RunFolderTests.tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let dense = dir.appendingPathComponent("prunelab-dense-1.h5").path
            let csr = dir.appendingPathComponent("prunelab-csr-1.h5").path
            let quantized = dir.appendingPathComponent("prunelab-quantized-1.h5").path
            let finite = "a model file must hold finite numbers"
            let cases: [(ModelFormat, String, String)] = [
                (.dense, Self.edit("fc2/weight", "a[1, 2] = np.nan"), "\(dense): layer fc2: fc2/weight holds NaN at [1, 2]; \(finite)"),
                (.dense, Self.edit("fc1/bias", "a[3] = np.inf"), "\(dense): layer fc1: fc1/bias holds +infinity at [3]; \(finite)"),
                (
                    .dense, Self.edit("fc1/weight", "a[4, 5] = -np.inf"),
                    "\(dense): layer fc1: fc1/weight holds -infinity at [4, 5]; \(finite)"
                ),
                (
                    .dense, Self.edit("fc1/mask", "a[0, 1] = 2"),
                    "\(dense): layer fc1: fc1/mask holds 2.0 at [0, 1]; a mask holds 0 (pruned) or 1 (kept)"
                ),
                (.dense, Self.edit("bn1/gamma", "a[2] = np.nan"), "\(dense): layer bn1: bn1/gamma holds NaN at [2]; \(finite)"),
                (
                    .dense, Self.edit("bn1/running_var", "a[4] = -0.5"),
                    "\(dense): layer bn1: bn1/running_var holds -0.5 at [4]; a variance is >= 0"
                ),
                (.csr, Self.edit("fc2/values", "a[0] = -np.inf"), "\(csr): layer fc2: fc2/values holds -infinity at [0]; \(finite)"),
                // offsets going backwards used to trap building a range
                (.csr, Self.edit("fc1/row_ptr", "a[1] = a[-1]"), "\(csr): fc1: CSR arrays do not fit a [5, 6] weight"),
                (
                    .quantized, Self.edit("fc1/scales", "a[0] = np.nan"),
                    "\(quantized): layer fc1: fc1/scales holds NaN at [0]; \(finite)"
                ),
                (
                    .quantized, Self.edit("fc2/scales", "a[2] = -1"),
                    "\(quantized): layer fc2: fc2/scales holds -1.0 at [2]; a scale is >= 0"
                ),
                (.quantized, Self.edit("fc2/bias", "a[0] = np.nan"), "\(quantized): layer fc2: fc2/bias holds NaN at [0]; \(finite)"),
            ]
            for (format, edit, expected) in cases {
                let message = try Self.loadEdited(format, edit, in: dir)
                #expect(message == expected, "\(format.rawValue): \(edit)")
            }
            // unedited files load
            let none = try Self.loadEdited(.dense, "pass", in: dir)
            #expect(none == nil)
        }
    }

    /// Writing a quantized file of a model with a NaN weight is the same one-line error, not a trap.
    @Test func quantizedWriterNamesANonFiniteWeight() throws {
        try withScratchFolder("model-input-write") { dir in
            let m = Self.model()
            var w = m.weightedLayers[1].weight.value.scalars
            w[7] = .nan
            m.weightedLayers[1].weight.value = Tensor(shape: [3, 5], scalars: w)
            let path = dir.appendingPathComponent("q.h5").path
            let message = thrownMessage {
                _ = try QuantizedModelFile.write(model: m, spec: QuantizationSpec(bits: 2, perChannel: false), configJSON: "{}", path: path)
            }
            #expect(message == "\(path): layer fc2: fc2/weight holds NaN at [1, 2]; a model file must hold finite numbers")
        }
    }

    /// Fake quantization never traps on a diverged weight: it becomes NaN (so the loss check
    /// names the step); with bits >= 2 the rest of its group is quantized as if it were 0, and a
    /// group holding an infinity (scale infinite) is NaN throughout.
    @Test func fakeQuantizationCarriesNaN() {
        let spec = QuantizationSpec(bits: 4, perChannel: true)
        let base: [Float] = [0.8, -0.3, 0.5, 0.25, -0.45, 0.1, 0.7, -0.2, 0.05]
        var values = base
        values[1] = .nan
        values[6] = .infinity
        FakeQuantize.apply(&values, rows: 3, mask: nil, spec: spec)
        var zeroed = base
        zeroed[1] = 0
        let reference = QuantizedTensor(values: zeroed, shape: [3, 3], mask: nil, spec: spec).dequantized()
        #expect(values[1].isNaN && values[0] == reference[0] && values[2] == reference[2])
        #expect(Array(values[3..<6]) == Array(reference[3..<6]))
        #expect(values[6].isNaN && values[7].isNaN && values[8].isNaN)
    }

    /// `prunelab quantize` on a model.h5 whose weight h5py set to NaN: exit 1, one stderr line
    /// naming the layer, and the run folder exactly as it was (no temporary or output file).
    @Test func quantizeOnANaNWeightIsOneLineAndLeavesNoFile() throws {
        try HDF5WriterTests.requireH5py()
        try withScratchFolder("quantize-nan") { dir in
            let run = try OutputFolderTests.finishedRun(in: dir)
            let model = run.appendingPathComponent("model.h5").path
            let nan = Self.edit("fc2/weight", "a[3, 17] = np.nan")
            let script = "import sys, h5py, numpy as np\nf = h5py.File(sys.argv[1], 'r+')\n\(nan)\nf.close()"
            _ = try TestSupport.python(["-c", script, model])
            let before = try FileManager.default.contentsOfDirectory(atPath: run.path).sorted()
            let r = try CLIErrorTests().run(["quantize", run.path, "--bits", "4"])
            #expect(r.status == 1)
            #expect(
                r.stderr
                    == "prunelab: error: \(model): layer fc2: fc2/weight holds NaN at [3, 17]; a model file must hold finite numbers\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted() == before)
        }
    }
}

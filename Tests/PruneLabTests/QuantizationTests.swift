import Testing
import Foundation
import TensorCore
import NN
import Training
import Quantization
import HDF5Support
@testable import Experiments

/// The quantizer against hand-computed codes and scales, the packing against hand-built bytes,
/// and `model-quantized.h5` against h5py.
@Suite struct QuantizationTests {
    /// A 2x3 weight whose third entry (0.5) is pruned: row 0 live {0.8, -0.3}, row 1 live
    /// {0.25, -0.45, 0.1}. No w/s lands on a rounding tie.
    static let values: [Float] = [0.8, -0.3, 0.5, 0.25, -0.45, 0.1]
    static let mask: [Float] = [1, 1, 0, 1, 1, 1]

    @Test func fourBitsPerChannelMatchesHandComputedCodes() {
        let q = QuantizedTensor(values: Self.values, shape: [2, 3], mask: Self.mask, spec: .init(bits: 4, perChannel: true))
        // m = 7; s0 = 0.8/7: 0.8 -> 7, -0.3 -> -2.625 -> -3; s1 = 0.45/7: 0.25 -> 3.89 -> 4, -0.45 -> -7, 0.1 -> 1.56 -> 2
        #expect(q.scales == [Float(0.8) / 7, Float(0.45) / 7])
        #expect(q.codes == [14, 4, 11, 0, 9])
        let s0 = Float(0.8) / 7, s1 = Float(0.45) / 7
        #expect(q.dequantized() == [s0 * 7, s0 * -3, 0, s1 * 4, s1 * -7, s1 * 2])
    }

    @Test func twoBitsPerLayerIsTernaryOnTheLargestMagnitude() {
        let q = QuantizedTensor(values: Self.values, shape: [2, 3], mask: Self.mask, spec: .init(bits: 2, perChannel: false))
        // m = 1, s = 0.8 (the pruned 0.5 does not count): w/s = 1, -0.375, 0.3125, -0.5625, 0.125
        #expect(q.scales == [0.8])
        #expect(q.codes == [2, 1, 1, 0, 1])
        #expect(q.dequantized() == [0.8, 0, 0, 0, -0.8, 0])
    }

    @Test func oneBitIsSignTimesMeanMagnitudeOverLiveWeights() {
        let q = QuantizedTensor(values: Self.values, shape: [2, 3], mask: Self.mask, spec: .init(bits: 1, perChannel: true))
        let s0 = Float((Double(Float(0.8)) + Double(Float(0.3))) / 2)
        let s1 = Float((Double(Float(0.25)) + Double(Float(0.45)) + Double(Float(0.1))) / 3)
        #expect(q.scales == [s0, s1])
        #expect(q.codes == [1, 0, 1, 0, 1])
        #expect(q.dequantized() == [s0, -s0, 0, s1, -s1, s1])
    }

    @Test func eightBitsOfADenseTensorAreCloseAndPrunedWeightsStayZero() {
        var rng = RandomSource(seed: 7)
        let n = 40 * 30
        let values = (0..<n).map { _ in Float(rng.nextNormal()) }
        let mask = (0..<n).map { _ in Float(rng.nextUniform() < 0.3 ? 1 : 0) }
        for bits in QuantizationSpec.supportedBits {
            for perChannel in [true, false] {
                let spec = QuantizationSpec(bits: bits, perChannel: perChannel)
                let q = QuantizedTensor(values: values, shape: [40, 30], mask: mask, spec: spec)
                let d = q.dequantized()
                #expect(zip(d, mask).allSatisfy { $1 != 0 || $0 == 0 }, "pruned weights stay 0 at \(bits) bits")
                #expect(q.liveCount == mask.filter { $0 != 0 }.count)
                // FakeQuantize, which training runs on, gives the same values bit for bit
                var fake = values
                FakeQuantize.apply(&fake, rows: 40, mask: mask, spec: spec)
                #expect(fake == d, "fake quantization at \(bits) bits, per channel \(perChannel)")
                if bits >= 2 {
                    // uniform grid: the error of a live weight is at most half a step
                    let groupSize = perChannel ? 30 : n
                    for i in 0..<n where mask[i] != 0 {
                        #expect(abs(d[i] - values[i]) <= q.scales[i / groupSize] / 2 * 1.0001)
                    }
                }
            }
        }
    }

    @Test func packingMatchesHandBuiltBytes() {
        #expect(BitPacking.pack([1, 2, 3, 0], bits: 2) == [0b00_11_10_01])
        #expect(BitPacking.pack([0xA, 0x3, 0x5], bits: 4) == [0x3A, 0x05])
        #expect(BitPacking.pack([1, 0, 1, 1, 0, 0, 0, 0, 1], bits: 1) == [0x0D, 0x01])
        #expect(BitPacking.pack([200, 7], bits: 8) == [200, 7])
        var rng = RandomSource(seed: 3)
        for bits in [1, 2, 4, 8] {
            let codes = (0..<37).map { _ in UInt8(rng.nextUniform() * Double(1 << bits)) }
            let packed = BitPacking.pack(codes, bits: bits)
            #expect(packed.count == (37 * bits + 7) / 8)
            #expect(BitPacking.unpack(packed, count: 37, bits: bits) == codes)
        }
        #expect(BitPacking.unpack([0x01], count: 9, bits: 1) == nil)
    }

    @Test func indexIsTheSmallerOfBitmaskAndCSR() {
        // 4 x 100, 2 live weights per row: CSR (5 x 1 + 8 x 1 = 13 bytes) beats the bitmask (50)
        var live = [Bool](repeating: false, count: 400)
        for r in 0..<4 { live[r * 100 + 3] = true; live[r * 100 + 99] = true }
        let csr = LiveIndex.choose(live: live, rows: 4)
        #expect(csr == .csr(rowPtr: [0, 2, 4, 6, 8], colIndex: [3, 99, 3, 99, 3, 99, 3, 99]))
        #expect(csr.bytes(columns: 100) == 13)
        #expect(csr.live(count: 400, columns: 100) == live)
        // half live: the bitmask (50 bytes) beats CSR (5 + 200)
        let half = (0..<400).map { $0 % 2 == 0 }
        let bitmask = LiveIndex.choose(live: half, rows: 4)
        #expect(bitmask.name == "bitmask" && bitmask.bytes(columns: 100) == 50)
        #expect(bitmask.live(count: 400, columns: 100) == half)
        #expect(LiveIndex.choose(live: [Bool](repeating: true, count: 400), rows: 4) == LiveIndex.none)
    }

    /// A two-layer MLP (6 -> 5 -> 3) with fc1 masked.
    static func model(seed: UInt64 = 5) -> Sequential {
        let m = Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 6, outputSize: 5), Activation(name: "relu1", kind: .relu),
                Dense(name: "fc2", inputSize: 5, outputSize: 3),
            ], inputShape: [6], loss: .softmaxCrossEntropy)
        var rng = RandomSource(seed: seed)
        for p in m.parameters {
            p.value = Tensor(shape: p.value.shape, scalars: (0..<p.value.count).map { _ in Float(rng.nextNormal() * 0.5) })
        }
        let fc1 = m.weightedLayers[0].weight
        fc1.setMask(Tensor(shape: [5, 6], scalars: (0..<30).map { $0 % 3 == 0 ? 0 : 1 }))
        return m
    }

    @Test func quantizedFileReloadsAndH5pyDequantizesTheSameValues() throws {
        try HDF5WriterTests.requireH5py()
        try withScratchFolder("quantized") { dir in
            let path = dir.appendingPathComponent("model-quantized.h5").path
            let m = Self.model()
            let spec = QuantizationSpec(bits: 2, perChannel: true)
            let layers = try QuantizedModelFile.write(model: m, spec: spec, configJSON: "{}", path: path)
            // PruneLab's reload: dequantized values, and the live weights as the mask
            let back = Self.model(seed: 99)
            try ModelFiles.load(path: path, into: back)
            for (a, b) in zip(m.weightedLayers, back.weightedLayers) {
                let q = QuantizedTensor(
                    values: a.weight.value.scalars, shape: a.weight.value.shape, mask: a.weight.mask?.scalars, spec: spec)
                #expect(b.weight.value.scalars == q.dequantized())
                #expect(b.weight.mask?.scalars == a.weight.mask?.scalars)
                #expect(b.bias?.value == a.bias?.value)
            }
            // the payload formula, by hand: fc1 has 20 live weights of 2 bits (5 bytes), 5 scales
            // (20 bytes), a 30-bit bitmask (4 bytes; CSR would take 6 + 20) and 5 biases (20 bytes)
            #expect(layers[0].codeBytes == 5 && layers[0].scaleBytes == 20 && layers[0].index == "bitmask")
            #expect(layers[0].indexBytes == 4 && layers[0].biasBytes == 20 && layers[0].totalBytes == 49)
            #expect(layers[1].index == "none" && layers[1].codeBytes == 4 && layers[1].totalBytes == 4 + 12 + 12)
            let script = """
                import sys, json, h5py, numpy as np
                f = h5py.File(sys.argv[1], "r")
                bits = int(f.attrs["bits"]); m = (1 << (bits - 1)) - 1
                out = {"format": str(f.attrs["format"])}
                for name in ("fc1", "fc2"):
                    g = f[name]
                    rows, cols = (int(x) for x in str(g.attrs["shape"]).split(","))
                    if g.attrs["index"] == "bitmask":
                        live = np.unpackbits(g["bitmask"][()], bitorder="little")[:rows * cols].astype(bool)
                    else:
                        live = np.ones(rows * cols, dtype=bool)
                    per = 8 // bits
                    raw = g["codes"][()]
                    codes = np.stack([(raw >> (bits * k)) & ((1 << bits) - 1) for k in range(per)], axis=1).ravel()[:live.sum()]
                    scales = g["scales"][()]
                    rowof = np.repeat(np.arange(rows), cols)[live]
                    w = np.zeros(rows * cols, dtype=np.float32)
                    w[live] = scales[rowof] * (codes.astype(np.float32) - np.float32(m))
                    out[name] = [float(x) for x in w]
                    out[name + "_bytes"] = int(sum(d.nbytes for d in g.values()))
                print(json.dumps(out))
                """
            let text = try TestSupport.python(["-c", script, path])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(json["format"] as? String == "prunelab-quantized-1")
            for (i, l) in back.weightedLayers.enumerated() {
                let h5py = try #require(json[l.name] as? [Double]).map { Float($0) }
                #expect(h5py == l.weight.value.scalars, "\(l.name): h5py's dequantized values")
                #expect(json[l.name + "_bytes"] as? Int == layers[i].totalBytes, "\(l.name): dataset bytes")
            }
        }
    }

    @Test func corruptQuantizedFilesAreNamedErrors() throws {
        try withScratchFolder("quantized-bad") { dir in
            let path = dir.appendingPathComponent("q.h5").path
            let file = try HDF5File(creating: path)
            try file.setAttribute("format", ModelFormat.quantized.rawValue)
            try file.createGroup("fc1")
            try file.setAttribute("shape", "5,6", on: "fc1")
            try file.setAttribute("bits", 4, on: "fc1")
            try file.setAttribute("index", "none", on: "fc1")
            try file.writeDataset("fc1/codes", shape: [3], values: [UInt8](repeating: 0, count: 3))
            try file.writeDataset("fc1/scales", shape: [1], values: [Float(1)])
            try file.close()
            let message = thrownMessage { try ModelFiles.load(path: path, into: Self.model()) }
            #expect(message == "\(path): fc1/codes holds 3 bytes, too few for 30 codes of 4 bits")
        }
    }
}

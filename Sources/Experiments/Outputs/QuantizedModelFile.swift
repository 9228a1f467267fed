import Foundation
import NN
import TensorCore
import HDF5Support
import Quantization

/// `model-quantized.h5`: the model with every prunable weight quantized (`QuantizedTensor`).
///
/// Readable with h5py. Root attributes `format` = `prunelab-quantized-1`, `config` (JSON),
/// `bits` and `per_channel` (0 or 1). One group per layer with:
/// - `codes` uint8: the live weights' codes in row-major order, packed least significant bit
///   first (`BitPacking`; `np.unpackbits(codes, bitorder="little")` for 1 bit);
/// - `scales` float32 `[out]` (per channel) or `[1]`;
/// - the live-weight index named by the attribute `index` (`LiveIndex`): `bitmask` uint8, or
///   `row_ptr` and `col_index` in the narrowest unsigned type, or none when nothing is pruned;
/// - `bias` float32, and attributes `shape` (`"300,784"`) and `bits`.
///
/// A code c dequantizes to `scale · (c - m)`, m = 2^(bits-1) - 1, for bits >= 2, and to
/// `scale · (2c - 1)` for 1 bit; pruned weights are 0. Loading it (`ModelFiles.load`) gives the
/// dequantized weights and the live weights as the mask.
public enum QuantizedModelFile {
    public static let name = "model-quantized.h5"

    /// What one layer takes on disk.
    public struct LayerBytes: Sendable {
        public var layer: String
        public var shape: [Int]
        public var live: Int
        public var scales: Int
        public var codeBytes: Int
        public var scaleBytes: Int
        public var index: String
        public var indexBytes: Int
        public var biasBytes: Int
        /// Largest |w - dequantized w| over the live weights.
        public var maxAbsError: Float
        /// Codes, scales, index and bias: the dataset payload, without HDF5's metadata.
        public var totalBytes: Int { codeBytes + scaleBytes + indexBytes + biasBytes }
    }

    /// Quantizes `model`'s prunable weights and writes the file at `path`.
    public static func write(model: Sequential, spec: QuantizationSpec, configJSON: String, path: String) throws -> [LayerBytes] {
        let file = try HDF5File(creating: path)
        try file.setAttribute("format", ModelFormat.quantized.rawValue)
        try file.setAttribute("config", configJSON)
        try file.setAttribute("bits", spec.bits)
        try file.setAttribute("per_channel", spec.perChannel ? 1 : 0)
        var report: [LayerBytes] = []
        for l in model.weightedLayers {
            report.append(try writeLayer(l, spec: spec, to: file))
        }
        // Batch norms stay float (gamma, beta, running statistics), as in the other model files.
        try ModelFiles.writeBatchNorms(model, to: file)
        try file.close()
        return report
    }

    static func writeLayer(_ l: WeightedLayer, spec: QuantizationSpec, to file: HDF5File) throws -> LayerBytes {
        let w = l.weight, name = l.name
        // a NaN or infinity has no code: named here rather than trapping in the quantizer
        try ModelFiles.checkFinite(w.value.scalars, shape: w.value.shape, path: file.path, layer: name, dataset: "\(name)/weight")
        let q = QuantizedTensor(values: w.value.scalars, shape: w.value.shape, mask: w.mask?.scalars, spec: spec)
        let packed = q.packedCodes, index = q.index
        try file.createGroup(name)
        try file.setAttribute("shape", w.value.shape.map(String.init).joined(separator: ","), on: name)
        try file.setAttribute("bits", spec.bits, on: name)
        try file.setAttribute("index", index.name, on: name)
        try file.writeDataset("\(name)/codes", shape: [packed.count], values: packed)
        try file.writeDataset("\(name)/scales", shape: [q.scales.count], values: q.scales)
        switch index {
        case .none: break
        case .bitmask(let bits): try file.writeDataset("\(name)/bitmask", shape: [bits.count], values: bits)
        case .csr(let rowPtr, let colIndex):
            try ModelFiles.writeNarrow(file, "\(name)/row_ptr", rowPtr, largest: rowPtr.last ?? 0)
            try ModelFiles.writeNarrow(file, "\(name)/col_index", colIndex, largest: max(q.columns - 1, 0))
        }
        if let b = l.bias { try file.writeDataset("\(name)/bias", shape: b.value.shape, values: b.value.scalars) }
        let restored = q.dequantized()
        var maxError: Float = 0
        for i in 0..<q.count where q.live[i] { maxError = max(maxError, abs(w.value.scalars[i] - restored[i])) }
        return LayerBytes(
            layer: name, shape: w.value.shape, live: q.liveCount, scales: q.scales.count, codeBytes: packed.count,
            scaleBytes: 4 * q.scales.count, index: index.name, indexBytes: index.bytes(columns: q.columns),
            biasBytes: 4 * (l.bias?.value.count ?? 0), maxAbsError: maxError)
    }

    /// Reads layer `layer` of an open quantized file into `weight`: dequantized values, and the
    /// live weights as its mask (none when every weight is live).
    static func load(_ file: HDF5File, path: String, layer: String, into weight: Parameter) throws {
        let shape = weight.value.shape, count = weight.value.count
        let rows = shape.first ?? 1, columns = rows == 0 ? 0 : count / rows
        let stored = try file.attributeString("shape", on: layer)
        guard stored == shape.map(String.init).joined(separator: ",") else {
            throw RunError("\(path): \(layer) has shape [\(stored)], the model expects \(shape)")
        }
        let bits = try file.attributeInt("bits", on: layer)
        guard QuantizationSpec.supportedBits.contains(bits) else { throw RunError("\(path): \(layer): unsupported bits \(bits)") }
        let index = try readIndex(file, path: path, layer: layer)
        guard let live = index.live(count: count, columns: columns) else {
            throw RunError("\(path): \(layer): the \(index.name) index does not fit a \(shape) weight")
        }
        let scales = try file.readFloats("\(layer)/scales").values
        guard scales.count == 1 || scales.count == rows else {
            throw RunError("\(path): \(layer)/scales has \(scales.count) entries; expected 1 or \(rows)")
        }
        try ModelFiles.checkFinite(scales, shape: [scales.count], path: path, layer: layer, dataset: "\(layer)/scales")
        if let i = scales.firstIndex(where: { $0 < 0 }) {
            throw RunError("\(path): layer \(layer): \(layer)/scales holds \(scales[i]) at [\(i)]; a scale is >= 0")
        }
        let liveCount = live.lazy.filter { $0 }.count
        let packed = try file.read("\(layer)/codes", as: UInt8.self).values
        guard let codes = BitPacking.unpack(packed, count: liveCount, bits: bits) else {
            throw RunError("\(path): \(layer)/codes holds \(packed.count) bytes, too few for \(liveCount) codes of \(bits) bits")
        }
        let spec = QuantizationSpec(bits: bits, perChannel: scales.count != 1 || rows == 1)
        if bits > 1, let bad = codes.first(where: { Int($0) > 2 * spec.maxLevel }) {
            throw RunError("\(path): \(layer)/codes holds \(bad), outside the \(bits)-bit grid 0...\(2 * spec.maxLevel)")
        }
        let q = QuantizedTensor(shape: shape, spec: spec, codes: codes, scales: scales, live: live)
        weight.value = Tensor(shape: shape, scalars: q.dequantized())
        weight.setMask(liveCount == count ? nil : Tensor(shape: shape, scalars: live.map { $0 ? 1 : 0 }))
    }

    static func readIndex(_ file: HDF5File, path: String, layer: String) throws -> LiveIndex {
        switch try file.attributeString("index", on: layer) {
        case "none": return .none
        case "bitmask": return .bitmask(try file.read("\(layer)/bitmask", as: UInt8.self).values)
        case "csr":
            let rowPtr = try file.readInt64s("\(layer)/row_ptr").values.map { Int($0) }
            let colIndex = try file.readInt64s("\(layer)/col_index").values.map { Int($0) }
            return .csr(rowPtr: rowPtr, colIndex: colIndex)
        case let other: throw RunError("\(path): \(layer): unknown index \"\(other)\"; known: none, bitmask, csr")
        }
    }
}

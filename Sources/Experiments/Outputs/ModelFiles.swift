import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import TensorCore
import NN
import HDF5Support

/// The trained model on disk: `model.h5` (dense) and `model-sparse.h5` (compressed rows).
///
/// `model.h5`, readable with h5py: one group per layer (`fc1/weight` `[out, in]` float32,
/// `fc1/bias` `[out]` float32, `fc1/mask` `[out, in]` uint8 for prunable weights), the resolved
/// config as the root attribute `config` (JSON), the layer list as `layers` (JSON) and `format` =
/// `prunelab-dense-1`. Batch norm
/// layers add `bn1/gamma`, `bn1/beta`, `bn1/running_mean`, `bn1/running_var` (float32 `[C]`),
/// in both files.
///
/// `model-sparse.h5`: per layer the CSR form of the weight — `values` (float32, the nonzeros
/// in row-major order), `col_index` (the column of each value) and `row_ptr` (`out + 1`
/// offsets into `values`), each index array in the narrowest unsigned type that holds its
/// largest value (uint8, uint16, else uint32), plus `bias` and the attribute `shape`; root
/// attributes `config` and `format` = `prunelab-csr-1`. Its size shrinks with sparsity.
/// Loading either file into a freshly built model reproduces the weights exactly.
/// The `format` root attribute of PruneLab's model files.
public enum ModelFormat: String, CaseIterable, Sendable {
    /// `model.h5`, `model-compact.h5`: dense weights, biases and masks per layer.
    case dense = "prunelab-dense-1"
    /// `model-sparse.h5`: compressed sparse rows per layer.
    case csr = "prunelab-csr-1"
    /// `model-quantized.h5`: packed codes, scales and the live-weight index per layer.
    case quantized = "prunelab-quantized-1"
}

public enum ModelFiles {
    public struct Sizes {
        public var denseBytes: Int
        public var sparseBytes: Int
    }

    public static let denseName = "model.h5"
    public static let sparseName = "model-sparse.h5"

    /// Writes both files into the run folder (each to a temporary name, then renamed), with the
    /// root attribute `layers`: the model's layer list (a preset written out) as JSON, so that
    /// a reader needs no preset table to rebuild the network.
    public static func write(model: Sequential, config: ExperimentConfig, to folder: RunFolder) throws -> Sizes {
        let configJSON = String(decoding: try ConfigLoader.canonicalJSON(config), as: UTF8.self)
        let layers = [("layers", try layersJSON(actualSpecs(try ModelRegistry.layerSpecs(config.model), model: model)))]
        let dense = folder.file(denseName), sparse = folder.file(sparseName)
        try atomically(dense) { try writeDense(model: model, configJSON: configJSON, path: $0, attributes: layers) }
        try atomically(sparse) { try writeSparse(model: model, configJSON: configJSON, path: $0, attributes: layers) }
        return Sizes(denseBytes: fileSize(dense), sparseBytes: fileSize(sparse))
    }

    /// The config's layer list with each conv or dense entry's units set to what the model has:
    /// the same list unless units were removed during training, when it describes the smaller
    /// network the file holds. Lists with blocks are returned as they are.
    static func actualSpecs(_ specs: [LayerSpec], model: Sequential) -> [LayerSpec] {
        let units = model.weightedLayers.map { $0.weight.value.shape[0] }
        let configured = specs.compactMap(\.units)
        guard !model.layers.contains(where: { $0 is Block }), configured.count == units.count, configured != units else { return specs }
        var next = units.makeIterator()
        return specs.map { spec in spec.units == nil ? spec : spec.withUnits(next.next()!) }
    }

    /// `config` with `model.layers` taken from the model file's root attribute `layers` when that
    /// list differs from the config's (a run whose units left the network during training: its
    /// `model.h5` holds the smaller network); otherwise `config` as it is.
    static func config(_ config: ExperimentConfig, matching file: URL) throws -> ExperimentConfig {
        let h5 = try HDF5File(path: file.path)
        guard h5.hasAttribute("layers") else { return config }
        let json = try h5.attributeString("layers")
        guard let specs = try? JSONDecoder().decode([LayerSpec].self, from: Data(json.utf8)) else {
            throw RunError("\(file.path): the root attribute layers is not a layer list")
        }
        guard specs != (try ModelRegistry.layerSpecs(config.model)) else { return config }
        var c = config
        c.model.layers = specs
        c.model.preset = nil
        return c
    }

    /// A layer list as JSON with sorted keys (the same bytes every run).
    static func layersJSON(_ specs: [LayerSpec]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(specs), as: UTF8.self)
    }

    /// `AtomicFile.write`, with errors naming the final file rather than its temporary name
    /// ("run/model-sparse.h5: cannot write ...: No space left on device").
    static func atomically(_ url: URL, _ body: (String) throws -> Void) throws {
        do { try AtomicFile.write(to: url, body) } catch {
            throw RunError("\(error)".replacingOccurrences(of: AtomicFile.temporaryURL(for: url).path, with: url.path))
        }
    }

    static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    public static func writeDense(
        model: Sequential, configJSON: String, path: String,
        attributes: [(String, String)] = []
    ) throws {
        let file = try HDF5File(creating: path)
        try file.setAttribute("format", ModelFormat.dense.rawValue)
        try file.setAttribute("config", configJSON)
        for (k, v) in attributes { try file.setAttribute(k, v) }
        for l in model.weightedLayers {
            let (name, w, b) = (l.name, l.weight, l.bias)
            try file.createGroup(name)
            try file.writeDataset("\(name)/weight", shape: w.value.shape, values: w.value.scalars)
            if let b { try file.writeDataset("\(name)/bias", shape: b.value.shape, values: b.value.scalars) }
            let mask = w.keptMask.scalars.map { UInt8($0 != 0 ? 1 : 0) }
            try file.writeDataset("\(name)/mask", shape: w.value.shape, values: mask)
        }
        try writeBatchNorms(model, to: file)
        try file.close()  // writes the file: a full disk is an error here, not a truncated file
    }

    public static func writeSparse(model: Sequential, configJSON: String, path: String, attributes: [(String, String)] = []) throws {
        let file = try HDF5File(creating: path)
        try file.setAttribute("format", ModelFormat.csr.rawValue)
        try file.setAttribute("config", configJSON)
        for (k, v) in attributes { try file.setAttribute(k, v) }
        for l in model.weightedLayers {
            let (name, w, b) = (l.name, l.weight, l.bias)
            let rows = w.value.shape[0], cols = w.value.count / rows
            var values: [Float] = [], colIndex: [Int] = [], rowPtr: [Int] = [0]
            w.value.scalars.withUnsafeBufferPointer { p in
                for r in 0..<rows {
                    for c in 0..<cols where p[r * cols + c] != 0 {
                        values.append(p[r * cols + c])
                        colIndex.append(c)
                    }
                    rowPtr.append(values.count)
                }
            }
            try file.createGroup(name)
            try file.setAttribute("shape", w.value.shape.map(String.init).joined(separator: ","), on: name)
            try file.writeDataset("\(name)/values", shape: [values.count], values: values)
            try writeNarrow(file, "\(name)/col_index", colIndex, largest: max(cols - 1, 0))
            try writeNarrow(file, "\(name)/row_ptr", rowPtr, largest: values.count)
            if let b { try file.writeDataset("\(name)/bias", shape: b.value.shape, values: b.value.scalars) }
        }
        try writeBatchNorms(model, to: file)
        try file.close()
    }

    /// Batch norm layers as groups `bn1/gamma`, `bn1/beta`, `bn1/running_mean`,
    /// `bn1/running_var` (float32 `[C]`), in both formats.
    static func writeBatchNorms(_ model: Sequential, to file: HDF5File) throws {
        for case let bn as BatchNorm in model.leafLayers {
            try file.createGroup(bn.name)
            for (key, t) in batchNormTensors(bn) {
                try file.writeDataset("\(bn.name)/\(key)", shape: t.shape, values: t.scalars)
            }
        }
    }

    static func batchNormTensors(_ bn: BatchNorm) -> [(String, Tensor)] {
        [("gamma", bn.gamma.value), ("beta", bn.beta.value), ("running_mean", bn.runningMean), ("running_var", bn.runningVar)]
    }

    /// Reads every batch norm layer of `model` back (each must be in the file).
    static func loadBatchNorms(_ file: HDF5File, path: String, into model: Sequential) throws {
        for case let bn as BatchNorm in model.leafLayers {
            var read: [String: Tensor] = [:]
            for (key, t) in batchNormTensors(bn) {
                let name = "\(bn.name)/\(key)"
                guard file.hasDataset(name) else { throw RunError("\(path): no dataset \(name); the model has batch norm \(bn.name)") }
                let v = try file.readFloats(name)
                guard v.shape == t.shape else { throw RunError("\(path): \(name) has shape \(v.shape), the model expects \(t.shape)") }
                try checkFinite(v.values, shape: v.shape, path: path, layer: bn.name, dataset: name)
                if key == "running_var", let i = v.values.firstIndex(where: { $0 < 0 }) {
                    throw RunError(
                        "\(path): layer \(bn.name): \(name) holds \(v.values[i]) at \(position(i, shape: v.shape)); a variance is >= 0")
                }
                read[key] = Tensor(shape: v.shape, scalars: v.values)
            }
            bn.gamma.value = read["gamma"]!
            bn.beta.value = read["beta"]!
            bn.runningMean = read["running_mean"]!
            bn.runningVar = read["running_var"]!
        }
    }

    /// Throws a one-line error naming the file, the layer and the dataset when `values` (row-major
    /// over `shape`) holds a NaN or an infinity: every number read from a model file is checked
    /// before it reaches a layer (a NaN weight used to reach quantization and trap converting
    /// NaN to an integer).
    static func checkFinite(_ values: [Float], shape: [Int], path: String, layer: String, dataset: String) throws {
        guard let i = values.firstIndex(where: { !$0.isFinite }) else { return }
        let v = values[i]
        throw RunError(
            "\(path): layer \(layer): \(dataset) holds \(v.isNaN ? "NaN" : v > 0 ? "+infinity" : "-infinity") at "
                + "\(position(i, shape: shape)); a model file must hold finite numbers")
    }

    /// The row-major flat index `i` as a position in `shape` (`[3, 17]`).
    static func position(_ i: Int, shape: [Int]) -> String {
        var rest = i, out: [Int] = []
        for d in shape.reversed() {
            let n = max(d, 1)
            out.append(rest % n)
            rest /= n
        }
        return "[\(out.reversed().map(String.init).joined(separator: ", "))]"
    }

    /// Index arrays in uint8, uint16 or uint32, whichever is the narrowest that holds `largest`.
    static func writeNarrow(_ file: HDF5File, _ name: String, _ xs: [Int], largest: Int) throws {
        if largest <= Int(UInt8.max) {
            try file.writeDataset(name, shape: [xs.count], values: xs.map { UInt8($0) })
        } else if largest <= Int(UInt16.max) {
            try file.writeDataset(name, shape: [xs.count], values: xs.map { UInt16($0) })
        } else {
            try file.writeDataset(name, shape: [xs.count], values: xs.map { UInt32($0) })
        }
    }

    /// The masks of `model.h5` by parameter name (`fc1.weight`), as the run left them.
    public static func readMasks(path: String) throws -> [String: Tensor] {
        let file = try HDF5File(path: path)
        var masks: [String: Tensor] = [:]
        for group in try file.groupNames() where file.hasDataset("\(group)/mask") {
            let m = try file.read("\(group)/mask", as: UInt8.self)
            masks["\(group).weight"] = Tensor(shape: m.shape, scalars: m.values.map { Float($0) })
        }
        return masks
    }

    /// Loads weights, biases and masks from any of the model files into `model` (built from the
    /// same config). Every number is checked first: a shape the model does not have, a NaN or
    /// infinity, a mask entry other than 0 or 1, a negative running variance, CSR or quantized
    /// index arrays that do not describe the weight, codes off the grid or a scale that is not
    /// finite and >= 0 are one-line `RunError`s naming the file and the layer.
    public static func load(path: String, into model: Sequential) throws {
        let file = try HDF5File(path: path)
        let formatName = try file.attributeString("format")
        guard let format = ModelFormat(rawValue: formatName) else {
            throw RunError(
                "\(path): unknown model format \"\(formatName)\"; known: \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for l in model.weightedLayers {
            let (name, w, b) = (l.name, l.weight, l.bias)
            switch format {
            case .dense:
                let weight = try file.readFloats("\(name)/weight")
                guard weight.shape == w.value.shape else {
                    throw RunError("\(path): \(name)/weight has shape \(weight.shape), the model expects \(w.value.shape)")
                }
                try checkFinite(weight.values, shape: weight.shape, path: path, layer: name, dataset: "\(name)/weight")
                w.value = Tensor(shape: weight.shape, scalars: weight.values)
                if file.hasDataset("\(name)/mask") {
                    let mask = try file.readFloats("\(name)/mask")
                    guard mask.shape == w.value.shape else {
                        throw RunError("\(path): \(name)/mask has shape \(mask.shape), the model expects \(w.value.shape)")
                    }
                    if let i = mask.values.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                        throw RunError(
                            "\(path): layer \(name): \(name)/mask holds \(mask.values[i]) at \(position(i, shape: mask.shape)); "
                                + "a mask holds 0 (pruned) or 1 (kept)")
                    }
                    w.setMask(mask.values.allSatisfy { $0 != 0 } ? nil : Tensor(shape: mask.shape, scalars: mask.values))
                } else {
                    w.setMask(nil)
                }
            case .quantized:
                try QuantizedModelFile.load(file, path: path, layer: name, into: w)
            case .csr:
                let rows = w.value.shape[0], cols = w.value.count / rows
                let values = try file.readFloats("\(name)/values").values
                let colIndex = try file.readInt64s("\(name)/col_index").values
                let rowPtr = try file.readInt64s("\(name)/row_ptr").values
                guard rowPtr.count == rows + 1, colIndex.count == values.count, rowPtr.first == 0,
                    Int(rowPtr.last ?? -1) == values.count, zip(rowPtr, rowPtr.dropFirst()).allSatisfy({ $0 <= $1 })
                else {
                    throw RunError("\(path): \(name): CSR arrays do not fit a [\(rows), \(cols)] weight")
                }
                try checkFinite(values, shape: [values.count], path: path, layer: name, dataset: "\(name)/values")
                var dense = [Float](repeating: 0, count: rows * cols)
                var mask = [Float](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    for k in Int(rowPtr[r])..<Int(rowPtr[r + 1]) {
                        let c = Int(colIndex[k])
                        guard c >= 0 && c < cols else { throw RunError("\(path): \(name)/col_index holds \(c), outside 0..<\(cols)") }
                        dense[r * cols + c] = values[k]
                        mask[r * cols + c] = 1
                    }
                }
                w.value = Tensor(shape: w.value.shape, scalars: dense)
                w.setMask(mask.allSatisfy { $0 != 0 } ? nil : Tensor(shape: w.value.shape, scalars: mask))
            }
            if let b {
                let bias = try file.readFloats("\(name)/bias")
                guard bias.shape == b.value.shape else {
                    throw RunError("\(path): \(name)/bias has shape \(bias.shape), the model expects \(b.value.shape)")
                }
                try checkFinite(bias.values, shape: bias.shape, path: path, layer: name, dataset: "\(name)/bias")
                b.value = Tensor(shape: bias.shape, scalars: bias.values)
            }
        }
        try loadBatchNorms(file, path: path, into: model)
    }
}

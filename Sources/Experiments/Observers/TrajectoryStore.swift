import Foundation
import HDF5Support

/// Every weight of the recorded layers at every trajectory record, in `trajectories.h5`
/// (`recording.format: hdf5`), written incrementally and readable directly by h5py.
///
/// **Layout.** `/steps` `[records]` int64: the step of each record. Per recorded layer `L`
/// (weight `[out, in]`, row-major, `n = out * in`): `/L/value`, `/L/grad`, `/L/update`
/// `[records, n]` float32 (the weight, its batch gradient of the step just taken, and its change
/// since the previous record, 0 at the first); `/L/pruned_step` `[n]` int64, the first recorded
/// step at which the weight was masked, -1 while it is live; attribute `shape` `"out,in"` on
/// group `L`. With `recording.store_samples` the layer stores a seeded uniform sample of its
/// weights instead: `/L/index` `[k]` int64 holds their flat indices (ascending), and the record
/// datasets and `pruned_step` are `[records, k]` and `[k]` in that order. The record datasets are chunked (`blockRows` records of a whole layer: at most 64,
/// and at most ~1 MiB of floats per chunk of the largest recorded layer), shuffled and
/// gzip-compressed (level 4), with an unlimited first dimension. Records are buffered in memory
/// and appended a whole chunk at a time (`H5Dset_extent`, then one hyperslab write), so each
/// chunk is compressed and written once (a flush writes a partial chunk, rewritten once later).
///
/// **Crash safety.** The file is written as `.trajectories.h5.partial` in the latest HDF5 format
/// in single-writer/multiple-reader (SWMR) mode and flushed every `flushRecords` records, at
/// every checkpoint and at the end; `finish()` closes it and renames it to `trajectories.h5`.
/// A killed run leaves the partial file, which `h5py.File(path, "r", swmr=True)` opens with
/// every record up to the last flush (`/steps` may be shorter than a layer's
/// datasets when the kill fell within a write: use the length of `/steps`).
///
/// **Cost.** Memory: the buffered block, `12 n * blockRows` bytes per layer (at most ~3 MiB),
/// HDF5's chunk cache (1 MiB per dataset) and `8 n` bytes per layer of pruned steps. Disk: `12 n` bytes per record before compression (float
/// noise compresses little: expect 80-95% of that).
final class TrajectoryStore {
    static let fileName = "trajectories.h5"
    static let gzipLevel = 4
    static let recordDatasets = ["value", "grad", "update"]

    let file: HDF5File
    let partial: URL
    let final: URL
    let flushRecords: Int
    /// Records per chunk and per buffered block.
    let blockRows: Int
    private(set) var records = 0
    private var unflushed = 0
    /// Records buffered since the last write: per layer value, grad, update rows; and their steps.
    private var pending: [String: [[Float]]] = [:]
    private var pendingSteps: [Int64] = []
    private let layerNames: [String]
    /// Per layer: the step at which each weight was first seen masked, -1 while live.
    private var prunedStep: [String: [Int64]] = [:]
    /// Per sampled layer: the stored flat indices (absent: every weight).
    private var stored: [String: [Int]] = [:]

    /// Creates the partial store for `layers` (name, weight shape `[out, in]`, the flat indices
    /// to store or nil for every weight) in `folder`.
    init(folder: RunFolder, layers: [(name: String, shape: [Int], indices: [Int]?)], flushRecords: Int) throws {
        final = folder.file(Self.fileName)
        partial = folder.file(".\(Self.fileName).partial")
        self.flushRecords = max(1, flushRecords)
        let largest = layers.map { $0.indices?.count ?? $0.shape.reduce(1, *) }.max() ?? 1
        blockRows = max(1, min(64, (1 << 20) / max(1, 4 * largest)))
        layerNames = layers.map(\.name)
        do {
            file = try HDF5File(store: partial.path)
            try file.createExtendableDataset("steps", of: Int64.self, rowShape: [], chunkRows: 1024, gzipLevel: Self.gzipLevel)
            for (name, shape, indices) in layers {
                let n = indices?.count ?? shape.reduce(1, *)
                if let indices {
                    stored[name] = indices
                    try file.writeDataset("\(name)/index", shape: [n], values: indices.map(Int64.init))
                }
                for d in Self.recordDatasets {
                    try file.createExtendableDataset(
                        "\(name)/\(d)", of: Float.self, rowShape: [n], chunkRows: blockRows, gzipLevel: Self.gzipLevel)
                }
                pending[name] = [[], [], []]
                prunedStep[name] = [Int64](repeating: -1, count: n)
                try file.writeDataset("\(name)/pruned_step", shape: [n], values: prunedStep[name]!)
                try file.setAttribute("shape", shape.map(String.init).joined(separator: ","), on: name)
            }
            try file.startSingleWriter()
        } catch {
            throw RunError("\(partial.path): cannot create the trajectory store: \(error)")
        }
    }

    /// Appends one record of layer `name` from its whole buffers: values, gradients, the values
    /// at the previous record (nil at the first: updates 0) and the mask (nil: dense).
    func append(
        layer name: String, step: Int, values: UnsafeBufferPointer<Float>, grads: UnsafeBufferPointer<Float>,
        previous: UnsafeBufferPointer<Float>?, mask: UnsafeBufferPointer<Float>?
    ) throws {
        let update = { (i: Int) -> Float in previous.map { values[i] - $0[i] } ?? 0 }
        if let indices = stored[name] {
            pending[name]![0].append(contentsOf: indices.lazy.map { values[$0] })
            pending[name]![1].append(contentsOf: indices.lazy.map { grads[$0] })
            pending[name]![2].append(contentsOf: indices.lazy.map(update))
        } else {
            pending[name]![0].append(contentsOf: values)
            pending[name]![1].append(contentsOf: grads)
            pending[name]![2].append(contentsOf: (0..<values.count).lazy.map(update))
        }
        guard let mask else { return }
        let indices = stored[name]
        prunedStep[name]!.withUnsafeMutableBufferPointer { p in
            for k in 0..<p.count {
                let i = indices?[k] ?? k
                if p[k] < 0 && mask[i] == 0 { p[k] = Int64(step) }
            }
        }
    }

    /// Ends a record at `step` (after every layer's `append`): writes a full block, flushes every
    /// `flushRecords` records.
    func endRecord(step: Int) throws {
        pendingSteps.append(Int64(step))
        records += 1
        unflushed += 1
        if unflushed >= flushRecords {
            try flush()
        } else if pendingSteps.count >= blockRows {
            try writePending()
        }
    }

    /// Appends the buffered records to the datasets, the layers first and `/steps` last.
    private func writePending() throws {
        guard !pendingSteps.isEmpty else { return }
        for name in layerNames {
            for (k, d) in Self.recordDatasets.enumerated() {
                try file.appendRows("\(name)/\(d)", pending[name]![k], rows: pendingSteps.count)
                pending[name]![k].removeAll(keepingCapacity: true)
            }
        }
        try file.appendRows("steps", pendingSteps, rows: pendingSteps.count)
        pendingSteps.removeAll(keepingCapacity: true)
    }

    /// Writes the buffered records and the pruning steps, and flushes the file to disk.
    func flush() throws {
        try writePending()
        for (name, steps) in prunedStep { try file.overwrite("\(name)/pruned_step", steps) }
        try file.flush()
        unflushed = 0
    }

    /// Flushes, closes and renames the store to `trajectories.h5`.
    func finish() throws {
        try flush()
        try file.close()
        try AtomicFile.commit(partial, to: final)
    }

    /// Closes and removes the partial store (after an error).
    func abandon() {
        try? file.close()
        try? FileManager.default.removeItem(at: partial)
    }
}

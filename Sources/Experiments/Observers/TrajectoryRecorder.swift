import Foundation
import Schema
#if canImport(Glibc)
    import Glibc
#endif
import TensorCore
import NN
import Training
import Pruning

/// Records weight trajectories while the network trains: `trajectories.csv` (sampled weights)
/// and `layer-trajectories.csv` (whole-layer summaries), streamed to disk.
///
/// **Which weights.** For each recorded layer (every prunable layer, or `recording.layers`;
/// a layer's prunable parameter is `<layer>.weight`, `[out, in]`, row-major): the explicit
/// `recording.indices[layer]` if given (deduplicated), else `samples_per_layer` weights drawn
/// from `rng ▶ "recording.<layer>"`. With `stratify` (default), the layer's weights are sorted
/// by their magnitude |w| at construction (ties by index), split into `samples_per_layer`
/// equal-count strata (stratum s holds sorted positions `s n / k ..< (s + 1) n / k`), and one
/// index is drawn uniformly in each; without, `samples_per_layer` indices are drawn uniformly
/// without replacement (partial Fisher-Yates). A layer with at most `samples_per_layer`
/// weights records all of them. Chosen indices are sorted ascending (`sampledIndices`).
///
/// **When.** At the start of the first loop (the initial weights, step `trainer.step`, normally
/// 0) and after every optimizer step with `step % every == 0` (`every` in steps; epochs are
/// converted with the loop's batches per epoch). Steps written are the trainer's step plus
/// `stepOffset`, and must increase: a step not after the last record is skipped.
///
/// **`trajectories.csv`** (long format), one row per sampled weight and record:
/// `step,layer,index,row,col,value,grad,update,masked` with `row = index / in`,
/// `col = index % in`, `grad` the parameter's current gradient entry (the batch gradient of
/// the step just taken; 0 before the first step), `update` the change in value since the
/// previous record (0 at the first), `masked` 1 where the mask is 0, else 0.
///
/// **`layer-trajectories.csv`**, one row per recorded layer and record:
/// `step,layer,sparsity,mean_abs_weight,mean_abs_update,fraction_near_linear,mask_churn`
/// over all of the layer's weights: fraction exactly 0; mean |w|; mean |update since the
/// previous record| (0 at the first); the fraction of unmasked weights whose trajectory R^2
/// is >= `nearLinearR2` (0.9), from a `TrajectoryStatistics` per layer updated at each record
/// with a window of `windowRecords` (20) records, i.e. `20 * every` steps (0 until the third
/// record); and the number of entries whose mask changed since the previous record (0 at the
/// first; a missing mask counts as all ones).
///
/// **Files.** Rows are buffered (64 KiB) and appended to `.trajectories.csv.partial` and
/// `.layer-trajectories.csv.partial` in the run folder; `finish()` flushes and renames them to
/// the final names, so a killed run never leaves a complete-looking `trajectories.csv`. A run
/// resumed from a checkpoint continues each file as its state on disk says (`StreamedFile`): a
/// partial file from the checkpoint's byte on, a finished one is left as it is (an earlier
/// process of the run wrote all of it; the resumed process only replays the steps it
/// recorded); without a checkpoint the files are written again and replace the finished ones
/// when complete. An I/O error while training stops recording (training goes on) and is
/// thrown by `finish()`.
///
/// **Cost per record and layer of n weights:** one pass over values and the mask on raw
/// buffers (zeros, |w|, |update|, mask churn, copy into the previous-values buffer), one
/// `TrajectoryStatistics` update and R^2 pass; memory `8 n` bytes plus the statistics' `44 n`.
public final class TrajectoryRecorder: TrainingObserver {
    public static let samplesFile = "trajectories.csv"
    public static let layersFile = "layer-trajectories.csv"
    public static let samplesColumns = ["step", "layer", "index", "row", "col", "value", "grad", "update", "masked"]
    public static let layersColumns = [
        "step", "layer", "sparsity", "mean_abs_weight", "mean_abs_update",
        "fraction_near_linear", "mask_churn",
    ]
    /// R^2 at or above which a weight counts as moving on a near-straight line.
    public static let nearLinearR2: Float = 0.9
    /// Effective window of the per-layer trajectory statistics, in records.
    public static let windowRecords = 20
    static let flushBytes = 1 << 16

    /// One recorded layer and its state between records.
    final class Track {
        let layer: String
        let escapedLayer: String
        let parameter: Parameter
        /// The weight's `in` dimension (elements per row).
        let columns: Int
        let samples: [Int]
        /// Values and mask (1 where dense) at the previous record.
        var previous: [Float]
        var previousMask: [Float]
        var statistics: TrajectoryStatistics?

        init(layer: String, parameter: Parameter, samples: [Int]) {
            self.layer = layer
            escapedLayer = CSVTable.escape(layer)
            self.parameter = parameter
            columns = max(1, parameter.value.rowSize)
            self.samples = samples
            previous = [Float](repeating: 0, count: parameter.value.count)
            previousMask = [Float](repeating: 1, count: parameter.value.count)
        }
    }

    public let config: RecordingConfig
    let tracks: [Track]
    let samples: StreamedFile
    let layerRows: StreamedFile
    /// Every weight of the recorded layers (`recording.format: hdf5`), else nil.
    let store: TrajectoryStore?
    /// Added to the trainer's step in the files (for pipelines of several loops).
    public var stepOffset = 0
    /// `config.every` in optimizer steps, known once the loop starts.
    public private(set) var everySteps: Int?
    /// The step of the latest record.
    public private(set) var lastRecordedStep: Int?
    /// Records written so far.
    public private(set) var recordCount = 0
    private var failure: Error?
    private var finished = false
    /// Receives each layer's sampled values at every record (TensorBoard's per-weight scalars):
    /// step, layer, the sampled indices and their values.
    var sampleSink: ((Int, String, [Int], [Float]) -> Void)?

    /// Chooses the weights to record and opens the partial files in `folder` (which must exist);
    /// resuming from `archive` (a checkpoint), the files are taken as their state says. Throws `ConfigError` at `recording.layers` for a layer that
    /// does not exist or has no prunable weight, at `recording.indices.<layer>` for a layer not
    /// recorded or an index out of range, and `RunError` when a file cannot be created or resumed.
    public init(
        config: RecordingConfig, model: Sequential, folder: RunFolder, rng: RandomSource,
        resuming archive: StateArchive? = nil
    ) throws {
        self.config = config
        // from a checkpoint, a store an earlier process finished is left as it is, like the CSVs
        var storeFinished = false
        if archive != nil && config.format == .hdf5, case .finished = StreamedFile.state(of: TrajectoryStore.fileName, in: folder.url) {
            storeFinished = true
        }
        if config.format == .hdf5 && archive != nil && !storeFinished {
            // checked before any file is opened, so the interrupted run's partial files stay as they are
            throw RunError(
                "\(folder.url.path): cannot resume a run recording trajectories.h5 (recording.format=hdf5): its store "
                    + "cannot be cut back to the checkpoint; it keeps the records up to the last flush in "
                    + ".trajectories.h5.partial; rerun with --force")
        }
        let chosen = try Self.recordedLayers(config, model: model)
        tracks = chosen.map { name, p in Track(layer: name, parameter: p, samples: TrajectoryRecorder.pick(config, name, p, rng)) }
        let sizes = try archive.map { try $0.ints("trajectories/sizes").map { UInt64($0) } }
        let start = { (i: Int) in sizes.map { StreamedFile.Start.resume(checkpointSize: $0[i]) } ?? .fresh }
        samples = try StreamedFile(
            folder: folder, name: TrajectoryRecorder.samplesFile, header: TrajectoryRecorder.samplesColumns, start: start(0))
        do {
            layerRows = try StreamedFile(
                folder: folder, name: TrajectoryRecorder.layersFile, header: TrajectoryRecorder.layersColumns, start: start(1))
        } catch {
            samples.abandon()
            throw error
        }
        do {
            store = storeFinished ? nil : try TrajectoryRecorder.makeStore(config, tracks: tracks, folder: folder, rng: rng)
        } catch {
            samples.abandon()
            layerRows.abandon()
            throw error
        }
    }

    /// The layers `config` records in `model` (name and prunable weight, in model order), after
    /// checking `recording.layers` and `recording.indices` against the model (the `ConfigError`s
    /// of `init`, which the runner asks for before it creates the run folder).
    static func recordedLayers(_ config: RecordingConfig, model: Sequential) throws -> [(String, Parameter)] {
        var prunable: [(String, Parameter)] = []
        for layer in model.leafLayers {
            if let p = layer.prunableWeight { prunable.append((layer.name, p)) }
        }
        let prunableNames = prunable.map(\.0)
        for name in config.layers where !prunableNames.contains(name) {
            throw ConfigError(
                path: "recording.layers",
                "\"\(name)\" is not a prunable layer; prunable layers: \(prunableNames.joined(separator: ", "))")
        }
        let chosen = config.layers.isEmpty ? prunable : prunable.filter { config.layers.contains($0.0) }
        let chosenNames = chosen.map(\.0)
        for (name, idx) in config.indices.sorted(by: { $0.key < $1.key }) {
            guard let p = chosen.first(where: { $0.0 == name })?.1 else {
                throw ConfigError(
                    path: "recording.indices.\(name)",
                    "\"\(name)\" is not a recorded layer; recorded layers: \(chosenNames.joined(separator: ", "))")
            }
            if let bad = idx.first(where: { $0 < 0 || $0 >= p.value.count }) {
                throw ConfigError(
                    path: "recording.indices.\(name)",
                    "index \(bad) is out of range for \(p.name) (\(p.value.count) weights, shape \(p.value.shape))")
            }
        }
        return chosen
    }

    /// The sampled indices of layer `name` (parameter `p`): the explicit ones, else a stratified or
    /// uniform sample from `rng ▶ "recording.<name>"`.
    static func pick(_ config: RecordingConfig, _ name: String, _ p: Parameter, _ rng: RandomSource) -> [Int] {
        if let explicit = config.indices[name] { return Array(Set(explicit)).sorted() }
        var r = rng.derived("recording.\(name)")
        return config.stratify
            ? TrajectoryRecorder.stratifiedSample(p.value, count: config.samplesPerLayer, rng: &r)
            : TrajectoryRecorder.uniformSample(p.value.count, count: config.samplesPerLayer, rng: &r)
    }

    /// The HDF5 store for `recording.format: hdf5` (nil for csv).
    /// With `store_samples`, each layer stores a uniform sample from `rng ▶ "recording.store.<layer>"`.
    static func makeStore(_ config: RecordingConfig, tracks: [Track], folder: RunFolder, rng: RandomSource) throws -> TrajectoryStore? {
        guard config.format == .hdf5 else { return nil }
        let layers = tracks.map { t -> (name: String, shape: [Int], indices: [Int]?) in
            let n = t.parameter.value.count
            guard config.storeSamples > 0 && config.storeSamples < n else { return (t.layer, t.parameter.value.shape, nil) }
            var r = rng.derived("recording.store.\(t.layer)")
            return (t.layer, t.parameter.value.shape, TrajectoryRecorder.uniformSample(n, count: config.storeSamples, rng: &r))
        }
        return try TrajectoryStore(folder: folder, layers: layers, flushRecords: config.flushRecords)
    }

    /// The recorded layers' sampled flat indices, ascending.
    public var sampledIndices: [String: [Int]] {
        Dictionary(uniqueKeysWithValues: tracks.map { ($0.layer, $0.samples) })
    }

    /// The recorded layers, in model order.
    public var layers: [String] { tracks.map(\.layer) }

    // MARK: Events

    public func trainingWillStart(_ trainer: Trainer) {
        start(batchesPerEpoch: trainer.batcher.batchesPerEpoch)
        if lastRecordedStep == nil { record(step: trainer.step + stepOffset) }
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        start(batchesPerEpoch: info.batchesPerEpoch)
        if let every = everySteps, info.step % every == 0 { record(step: info.step + stepOffset) }
        return .continue
    }

    /// Fixes `every` in steps (once).
    func start(batchesPerEpoch: Int) {
        if everySteps == nil { everySteps = max(1, config.every.steps(perEpoch: max(1, batchesPerEpoch))) }
    }

    /// Appends one record of every tracked layer at `step` (skipped unless after the last one,
    /// after `finish()` or after an I/O error).
    func record(step: Int) {
        guard !finished, failure == nil else { return }
        if let last = lastRecordedStep, step <= last { return }
        let first = lastRecordedStep == nil
        let window = TrajectoryRecorder.windowRecords * (everySteps ?? 1)
        for t in tracks { recordLayer(t, step: step, first: first, window: window) }
        lastRecordedStep = step
        recordCount += 1
        do {
            try store?.endRecord(step: step)
            try samples.flushIfFull()
            try layerRows.flushIfFull()
        } catch {
            failure = error
        }
    }

    private func recordLayer(_ t: Track, step: Int, first: Bool, window: Int) {
        let p = t.parameter
        let n = p.value.count
        let values = p.value.scalars, grads = p.grad.scalars, mask = p.mask?.scalars
        let stats: TrajectoryStatistics
        if let s = t.statistics {
            stats = s
        } else {
            stats = TrajectoryStatistics(count: n, window: window, horizon: 0)
            t.statistics = stats
        }
        var pass = LayerPass()
        var rows = ""
        let prefix = "\(step),\(t.escapedLayer),"
        values.withUnsafeBufferPointer { v in
            grads.withUnsafeBufferPointer { g in
                withOptionalBuffer(mask) { m in
                    t.previous.withUnsafeMutableBufferPointer { prev in
                        // Sampled rows first: they need the previous values.
                        for i in t.samples {
                            let u: Float = first ? 0 : v[i] - prev[i]
                            let masked = (m.map { $0[i] == 0 } ?? false) ? 1 : 0
                            rows += "\(prefix)\(i),\(i / t.columns),\(i % t.columns),\(v[i]),\(g[i]),\(u),\(masked)\n"
                        }
                        if let store, failure == nil {
                            do {
                                try store.append(
                                    layer: t.layer, step: step, values: v, grads: g,
                                    previous: first ? nil : UnsafeBufferPointer(prev), mask: m)
                            } catch { failure = error }
                        }
                        t.previousMask.withUnsafeMutableBufferPointer { pm in
                            pass = LayerPass(values: v, previous: prev, mask: m, previousMask: pm)
                        }
                    }
                    stats.update(values: v, mask: m, step: step)
                }
            }
        }
        sampleSink?(step, t.layer, t.samples, t.samples.map { values[$0] })
        let zeros = pass.zeros, sumAbs = pass.sumAbs, sumAbsUpdate = first ? 0 : pass.sumAbsUpdate
        let churn = first ? 0 : pass.churn
        let r2 = stats.rSquared()
        let (unmasked, near) = r2.withUnsafeBufferPointer { r in
            withOptionalBuffer(mask) { m in LayerPass.countNearLinear(r, mask: m, threshold: TrajectoryRecorder.nearLinearR2) }
        }
        let dn = Double(max(n, 1))
        let sparsity = n == 0 ? 0 : Double(zeros) / dn
        let nearFraction = unmasked == 0 ? 0 : Double(near) / Double(unmasked)
        samples.append(rows)
        layerRows.append("\(prefix)\(sparsity),\(sumAbs / dn),\(sumAbsUpdate / dn),\(nearFraction),\(churn)\n")
    }

    /// Flushes and renames the partial files to `trajectories.csv` and `layer-trajectories.csv`.
    /// Throws the first I/O error met while recording (then no final file is written). Later
    /// calls do nothing; events after it are ignored.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if let failure {
            samples.abandon()
            layerRows.abandon()
            store?.abandon()
            throw failure
        }
        do {
            try store?.finish()
            try layerRows.commit()
            try samples.commit()
        } catch {
            samples.abandon()
            layerRows.abandon()
            store?.abandon()
            throw error
        }
    }
}

extension TrajectoryRecorder: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        // A write error here surfaces at `finish()`, like any other recording I/O error.
        let sizes: [UInt64] = (try? [samples.flushedSize(), layerRows.flushedSize()]) ?? [0, 0]
        try? store?.flush()
        archive.set("\(prefix)/sizes", sizes.map { Int64(bitPattern: $0) })
        archive.set("\(prefix)/position", [Int64(lastRecordedStep ?? -1), Int64(recordCount), Int64(everySteps ?? -1)])
        for t in tracks {
            archive.set("\(prefix)/\(t.layer)/previous", t.previous)
            archive.set("\(prefix)/\(t.layer)/previous_mask", t.previousMask)
            t.statistics?.save(into: archive, prefix: "\(prefix)/\(t.layer)/statistics")
        }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        let position = try archive.ints("\(prefix)/position")
        lastRecordedStep = position[0] < 0 ? nil : Int(position[0])
        recordCount = Int(position[1])
        everySteps = position[2] < 0 ? nil : Int(position[2])
        let window = TrajectoryRecorder.windowRecords * (everySteps ?? 1)
        for t in tracks {
            t.previous = try archive.floats("\(prefix)/\(t.layer)/previous")
            t.previousMask = try archive.floats("\(prefix)/\(t.layer)/previous_mask")
            if archive.has("\(prefix)/\(t.layer)/statistics/floats") {
                let s = TrajectoryStatistics(count: t.parameter.value.count, window: window, horizon: 0)
                try s.restore(from: archive, prefix: "\(prefix)/\(t.layer)/statistics")
                t.statistics = s
            }
        }
    }
}

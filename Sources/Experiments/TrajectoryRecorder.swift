import Foundation
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
/// the final names, so a killed run never leaves a complete-looking `trajectories.csv`. Any
/// final file already in the folder is removed at construction. An I/O error while training
/// stops recording (training goes on) and is thrown by `finish()`.
///
/// **Cost per record and layer of n weights:** one pass over values and the mask on raw
/// buffers (zeros, |w|, |update|, mask churn, copy into the previous-values buffer), one
/// `TrajectoryStatistics` update and R^2 pass; memory `8 n` bytes plus the statistics' `44 n`.
public final class TrajectoryRecorder: TrainingObserver {
    public static let samplesFile = "trajectories.csv"
    public static let layersFile = "layer-trajectories.csv"
    public static let samplesColumns = ["step", "layer", "index", "row", "col", "value", "grad", "update", "masked"]
    public static let layersColumns = ["step", "layer", "sparsity", "mean_abs_weight", "mean_abs_update",
                                       "fraction_near_linear", "mask_churn"]
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

    /// A partial file being appended to, renamed to its final name when done.
    final class Stream {
        let partial: URL
        let final: URL
        let handle: FileHandle
        var buffer: [UInt8] = []
        private var open = true

        init(folder: RunFolder, name: String, header: [String]) throws {
            final = folder.file(name)
            partial = folder.file(".\(name).partial")
            let fm = FileManager.default
            try? fm.removeItem(at: final)
            guard fm.createFile(atPath: partial.path, contents: nil) else {
                throw RunError("\(partial.path): cannot create (does the run folder exist?)")
            }
            do { handle = try FileHandle(forWritingTo: partial) } catch {
                throw RunError("\(partial.path): cannot open for writing: \(error.localizedDescription)")
            }
            buffer.reserveCapacity(TrajectoryRecorder.flushBytes + 4096)
            append(header.map(CSVTable.escape).joined(separator: ",") + "\n")
        }

        func append(_ s: String) { buffer.append(contentsOf: s.utf8) }

        func flush() throws {
            guard !buffer.isEmpty else { return }
            do { try handle.write(contentsOf: buffer) } catch {
                throw RunError("\(partial.path): cannot write: \(error.localizedDescription)")
            }
            buffer.removeAll(keepingCapacity: true)
        }

        func flushIfFull() throws {
            if buffer.count >= TrajectoryRecorder.flushBytes { try flush() }
        }

        /// Flushes, closes and renames the partial file to its final name.
        func commit() throws {
            try flush()
            close()
            guard rename(partial.path, final.path) == 0 else {
                throw RunError("\(final.path): cannot write: \(String(cString: strerror(errno)))")
            }
        }

        func abandon() {
            close()
            try? FileManager.default.removeItem(at: partial)
        }

        /// Closes the handle once (a second close could hit a reused descriptor).
        func close() {
            guard open else { return }
            open = false
            try? handle.close()
        }

        deinit { close() }
    }

    public let config: RecordingConfig
    let tracks: [Track]
    let samples: Stream
    let layerRows: Stream
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

    /// Chooses the weights to record and opens the partial files in `folder` (which must exist).
    /// Throws `ConfigError` at `recording.layers` for a layer that does not exist or has no
    /// prunable weight, at `recording.indices.<layer>` for a layer not recorded or an index out
    /// of range, and `RunError` when a file cannot be created.
    public init(config: RecordingConfig, model: Sequential, folder: RunFolder, rng: RandomSource) throws {
        self.config = config
        var prunable: [(String, Parameter)] = []
        for layer in model.layers {
            if let p = layer.parameters.first(where: \.isPrunable) { prunable.append((layer.name, p)) }
        }
        let prunableNames = prunable.map(\.0)
        for name in config.layers where !prunableNames.contains(name) {
            throw ConfigError(path: "recording.layers",
                              "\"\(name)\" is not a prunable layer; prunable layers: \(prunableNames.joined(separator: ", "))")
        }
        let chosen = config.layers.isEmpty ? prunable : prunable.filter { config.layers.contains($0.0) }
        let chosenNames = chosen.map(\.0)
        for (name, idx) in config.indices.sorted(by: { $0.key < $1.key }) {
            guard let p = chosen.first(where: { $0.0 == name })?.1 else {
                throw ConfigError(path: "recording.indices.\(name)",
                                  "\"\(name)\" is not a recorded layer; recorded layers: \(chosenNames.joined(separator: ", "))")
            }
            if let bad = idx.first(where: { $0 < 0 || $0 >= p.value.count }) {
                throw ConfigError(path: "recording.indices.\(name)",
                                  "index \(bad) is out of range for \(p.name) (\(p.value.count) weights, shape \(p.value.shape))")
            }
        }
        tracks = chosen.map { name, p in
            let picked: [Int]
            if let explicit = config.indices[name] {
                picked = Array(Set(explicit)).sorted()
            } else {
                var r = rng.derived("recording.\(name)")
                picked = config.stratify
                    ? TrajectoryRecorder.stratifiedSample(p.value, count: config.samplesPerLayer, rng: &r)
                    : TrajectoryRecorder.uniformSample(p.value.count, count: config.samplesPerLayer, rng: &r)
            }
            return Track(layer: name, parameter: p, samples: picked)
        }
        samples = try Stream(folder: folder, name: TrajectoryRecorder.samplesFile, header: TrajectoryRecorder.samplesColumns)
        do {
            layerRows = try Stream(folder: folder, name: TrajectoryRecorder.layersFile, header: TrajectoryRecorder.layersColumns)
        } catch {
            samples.abandon()
            throw error
        }
    }

    /// The recorded layers' sampled flat indices, ascending.
    public var sampledIndices: [String: [Int]] {
        Dictionary(uniqueKeysWithValues: tracks.map { ($0.layer, $0.samples) })
    }

    /// The recorded layers, in model order.
    public var layers: [String] { tracks.map(\.layer) }

    // MARK: Sampling

    /// One index per stratum of `count` equal-count strata of the weights sorted by |w|
    /// (ties by index), drawn uniformly within the stratum; all indices when `count >= n`.
    static func stratifiedSample(_ w: Tensor, count k: Int, rng: inout RandomSource) -> [Int] {
        let n = w.count
        guard k > 0 else { return [] }
        guard k < n else { return Array(0..<n) }
        let order: [Int] = w.scalars.withUnsafeBufferPointer { v in
            (0..<n).sorted { a, b in
                let x = abs(v[a]), y = abs(v[b])
                return x < y || (x == y && a < b)
            }
        }
        var picked: [Int] = []
        picked.reserveCapacity(k)
        for s in 0..<k {
            let lo = s * n / k, hi = (s + 1) * n / k
            picked.append(order[lo + rng.nextInt(below: hi - lo)])
        }
        return picked.sorted()
    }

    /// `count` distinct indices of `0..<n` uniformly (partial Fisher-Yates); all when `count >= n`.
    static func uniformSample(_ n: Int, count k: Int, rng: inout RandomSource) -> [Int] {
        guard k > 0 else { return [] }
        guard k < n else { return Array(0..<n) }
        var p = Array(0..<n)
        for i in 0..<k { p.swapAt(i, i + rng.nextInt(below: n - i)) }
        return Array(p[0..<k]).sorted()
    }

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
        if let s = t.statistics { stats = s } else {
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
                        t.previousMask.withUnsafeMutableBufferPointer { pm in
                            pass = LayerPass(values: v, previous: prev, mask: m, previousMask: pm)
                        }
                    }
                    stats.update(values: v, mask: m, step: step)
                }
            }
        }
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
            throw failure
        }
        do {
            try layerRows.commit()
            try samples.commit()
        } catch {
            samples.abandon()
            layerRows.abandon()
            throw error
        }
    }
}

/// One fused pass over a layer: counts and sums against the previous record, then stores the
/// current values and mask (1 where `mask` is nil) as the new previous ones.
struct LayerPass {
    var zeros = 0
    var sumAbs = 0.0
    /// Sum of |value - previous| (meaningless at the first record).
    var sumAbsUpdate = 0.0
    /// Entries whose mask differs from the previous one.
    var churn = 0

    init() {}

    /// SIMD8 lanes, partial sums in `Float` per block of 1024 weights, accumulated in `Double`.
    init(values v: UnsafeBufferPointer<Float>, previous prev: UnsafeMutableBufferPointer<Float>,
         mask m: UnsafeBufferPointer<Float>?, previousMask pm: UnsafeMutableBufferPointer<Float>) {
        let n = v.count
        precondition(prev.count == n && pm.count == n && (m?.count ?? n) == n, "LayerPass: buffer sizes differ")
        guard n > 0, let vb = v.baseAddress, let pb = prev.baseAddress, let pmb = pm.baseAddress else { return }
        let vr = UnsafeRawPointer(vb), pr = UnsafeMutableRawPointer(pb), pmr = UnsafeMutableRawPointer(pmb)
        let mr = m?.baseAddress.map(UnsafeRawPointer.init)
        typealias V = SIMD8<Float>
        let zero = V(repeating: 0), one = V(repeating: 1)
        let ones = SIMD8<Int32>(repeating: 1), none = SIMD8<Int32>(repeating: 0)
        var zc = SIMD8<Int32>(repeating: 0), cc = SIMD8<Int32>(repeating: 0)
        let block = 1024
        var i = 0
        while i + 8 <= n {
            let end = min(n - (n - i) % 8, i + block)
            var a = zero, u = zero
            while i < end {
                let off = i * 4
                let x = vr.loadUnaligned(fromByteOffset: off, as: V.self)
                let p = pr.loadUnaligned(fromByteOffset: off, as: V.self)
                let d = x - p
                a += x.replacing(with: -x, where: x .< zero)
                u += d.replacing(with: -d, where: d .< zero)
                zc &+= none.replacing(with: ones, where: x .== zero)
                pr.storeBytes(of: x, toByteOffset: off, as: V.self)
                let mv = mr?.loadUnaligned(fromByteOffset: off, as: V.self) ?? one
                let q = pmr.loadUnaligned(fromByteOffset: off, as: V.self)
                cc &+= none.replacing(with: ones, where: mv .!= q)
                pmr.storeBytes(of: mv, toByteOffset: off, as: V.self)
                i += 8
            }
            sumAbs += Double(a.sum())
            sumAbsUpdate += Double(u.sum())
        }
        zeros = Int(zc.wrappedSum())
        churn = Int(cc.wrappedSum())
        while i < n {
            let x = v[i]
            if x == 0 { zeros += 1 }
            sumAbs += Double(abs(x))
            sumAbsUpdate += Double(abs(x - prev[i]))
            prev[i] = x
            let mv = m?[i] ?? 1
            if mv != pm[i] { churn += 1 }
            pm[i] = mv
            i += 1
        }
    }

    /// Entries whose mask is not 0 (all when nil), and those of them with `r2 >= threshold`.
    static func countNearLinear(_ r2: UnsafeBufferPointer<Float>, mask m: UnsafeBufferPointer<Float>?,
                                threshold: Float) -> (unmasked: Int, near: Int) {
        let n = r2.count
        precondition((m?.count ?? n) == n, "countNearLinear: mask has \(m?.count ?? n) entries for \(n)")
        guard n > 0, let rb = r2.baseAddress else { return (0, 0) }
        typealias V = SIMD8<Float>
        let rr = UnsafeRawPointer(rb), mr = m?.baseAddress.map(UnsafeRawPointer.init)
        let zero = V(repeating: 0), one = V(repeating: 1), t = V(repeating: threshold)
        let ones = SIMD8<Int32>(repeating: 1), none = SIMD8<Int32>(repeating: 0)
        var kept = SIMD8<Int32>(repeating: 0), near = SIMD8<Int32>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let off = i * 4
            let r = rr.loadUnaligned(fromByteOffset: off, as: V.self)
            let mv = mr?.loadUnaligned(fromByteOffset: off, as: V.self) ?? one
            let live = mv .!= zero
            kept &+= none.replacing(with: ones, where: live)
            near &+= none.replacing(with: ones, where: live .& (r .>= t))
            i += 8
        }
        var k = Int(kept.wrappedSum()), c = Int(near.wrappedSum())
        while i < n {
            if (m?[i] ?? 1) != 0 {
                k += 1
                if r2[i] >= threshold { c += 1 }
            }
            i += 1
        }
        return (k, c)
    }
}

/// Runs `body` with the buffer of `array`, or with nil.
@inline(__always)
private func withOptionalBuffer<R>(_ array: [Float]?, _ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
    if let array { return array.withUnsafeBufferPointer { body($0) } }
    return body(nil)
}

/// Subsets of `trajectories.csv` for `prunelab trajectories`.
public enum TrajectoryExport {
    /// The header and the rows of `rows` (a CSV with `step` and `layer` columns, header first)
    /// whose layer is `layer` (any when nil) and whose step is a multiple of `every` (any when
    /// nil). Throws `RunError` naming `source` for a missing column, a non-integer step, a
    /// non-positive `every`, or a layer with no rows (listing the layers present).
    public static func subset(_ rows: [[String]], layer: String? = nil, every: Int? = nil,
                              source: String = TrajectoryRecorder.samplesFile) throws -> [[String]] {
        guard let header = rows.first else { throw RunError("\(source): empty file (no header row)") }
        guard let stepCol = header.firstIndex(of: "step"), let layerCol = header.firstIndex(of: "layer") else {
            throw RunError("\(source): no step and layer columns (header: \(header.joined(separator: ",")))")
        }
        if let every, every <= 0 { throw RunError("every must be positive, got \(every)") }
        var out = [header]
        var present: [String] = [], seen = Set<String>()
        for (line, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else {
                throw RunError("\(source): line \(line + 2) has \(r.count) fields, the header \(header.count)")
            }
            let l = r[layerCol]
            if seen.insert(l).inserted { present.append(l) }
            if let layer, l != layer { continue }
            if let every {
                guard let s = Int(r[stepCol]) else {
                    throw RunError("\(source): line \(line + 2): step \"\(r[stepCol])\" is not an integer")
                }
                if s % every != 0 { continue }
            }
            out.append(r)
        }
        if let layer, !seen.contains(layer) {
            throw RunError("\(source): no layer \"\(layer)\"; layers present: \(present.joined(separator: ", "))")
        }
        return out
    }

    /// `subset` of `runDir/trajectories.csv` as CSV text (header first).
    public static func subset(runDir: String, layer: String? = nil, every: Int? = nil) throws -> String {
        let url = URL(fileURLWithPath: runDir, isDirectory: true).appendingPathComponent(TrajectoryRecorder.samplesFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(url.path): no such file (record trajectories with recording.enabled=true)")
        }
        let rows = try subset(try Inspect.readCSV(url), layer: layer, every: every, source: url.path)
        var s = ""
        for r in rows { s += r.map(CSVTable.escape).joined(separator: ",") + "\n" }
        return s
    }
}

import Foundation
import TensorCore
import NN
import Training

/// Takes what a method reports to TensorBoard: named histograms, and the moments its pruning
/// changed the masks (the TensorBoard writer; methods report through it).
public protocol HistogramSink: AnyObject {
    func histogram(_ tag: String, step: Int, values: [Float])
    /// Records every prunable layer's sparsity now, after a pruning event at `step` (a dynamic
    /// check, a Han round, a structured selection).
    func pruningDidChange(step: Int)
    /// Runs `body` (which gathers values for `histogram`), counting its time as the sink's cost.
    func timed(_ body: () -> Void)
}

/// Writes the run's TensorBoard event file, `tb/events.out.tfevents.<time>.<host>`.
///
/// Scalars: every row of `metrics.csv` under `<split>/<metric>` (`train/loss`,
/// `test/accuracy`, `train/learning_rate`, ...), and at every test evaluation `train_flops`
/// (cumulative) and `wall_seconds`, with the values and the step of `metrics.csv` (as float32:
/// TensorBoard's `simple_value`). `sparsity/overall` and `sparsity/<layer>` at every pruning
/// event the method reports (`pruningDidChange`: each dynamic check that wrote `events.csv`
/// rows, each Han round, each structured selection) and at every test evaluation, unless a
/// pruning event at the same step came before it (a Han round prunes at the step of the
/// evaluation that ended training: that step has both points). With recording on, each
/// sampled weight's value at every record, `trajectory.<layer>/<index>` (TensorBoard groups
/// tags by what precedes the first `/`, so each layer's sampled weights form one group).
/// HParams (`HParamsSummary`): the experiment and the session's hyperparameters at the start
/// of a fresh run, and at its end the scalars `final/test_accuracy`, `final/sparsity`,
/// `final/train_flops`, `final/wall_seconds` (the values of `summary.csv`) and the session's
/// end with its status (`failure` when the run fails). Histograms, at the first test
/// evaluation `histograms_every` after the previous ones: `weights/<layer>` over the live
/// (unmasked) weights, and whatever the method adds (a trajectory criterion's statistics, what
/// each check pruned). Events are written and flushed at every test evaluation and pruning
/// event, so a killed run keeps what it had evaluated; a resumed run writes a second file that starts with a
/// `SessionLog` START at the step after its checkpoint, which makes TensorBoard drop the first
/// process's events past that checkpoint (they were computed again).
public final class TensorBoardRecorder: HistogramSink {
    let config: TensorBoardConfig
    let model: Sequential
    let clock: RunClock
    let histogramSteps: Int
    let handle: FileHandle
    /// The event file's name in the run folder (`tb/...`).
    public let name: String
    var pending: [TensorBoardEvent] = []
    var scalars: (step: Int, values: [(tag: String, value: Double)]) = (0, [])
    var lastHistograms: Int?
    /// The step of the last pruning event's sparsity scalars.
    var lastSparsity: Int?
    /// Histograms of the method's state, asked for with the weight histograms.
    var methodHistograms: (Int, HistogramSink) -> Void = { _, _ in }
    /// The first write error (training goes on; the runner warns).
    public private(set) var failure: Error?
    /// Seconds this process spent on TensorBoard: gathering, encoding and writing events
    /// (`tensorboard_seconds` in summary.csv).
    public private(set) var seconds = 0.0

    public init(config: TensorBoardConfig, folder: RunFolder, session: TrainingSession) throws {
        self.config = config
        model = session.model
        clock = session.clock
        histogramSteps = max(1, config.histogramsEvery.steps(perEpoch: session.stepsPerEpoch))
        let dir = folder.url.appendingPathComponent("tb", isDirectory: true)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw RunError("\(dir.path): cannot create: \(error.localizedDescription)")
        }
        var base = "tb/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(ProcessInfo.processInfo.hostName)"
        if FileManager.default.fileExists(atPath: folder.url.appendingPathComponent(base).path) { base += ".\(getpid())" }
        name = base
        let url = folder.file(name)
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let h = try? FileHandle(forWritingTo: url) else {
            throw RunError("\(url.path): cannot create")
        }
        handle = h
        pending.append(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: 0, payload: .fileVersion("brain.Event:2")))
        flush()
    }

    deinit { try? handle.close() }

    /// Mirrors one `metrics.csv` row; a test accuracy row completes the evaluation's record.
    func metric(step: Int, tag: String, value: Double, wall: Double, flops: Int) {
        timed { record(step: step, tag: tag, value: value, wall: wall, flops: flops) }
    }

    public func timed(_ body: () -> Void) {
        let clock = Date()
        body()
        seconds += Date().timeIntervalSince(clock)
    }

    func record(step: Int, tag: String, value: Double, wall: Double, flops: Int) {
        add(step: step, tag: tag, value: value)
        guard tag == "test/accuracy" else { return }
        let all = model.prunableParameters
        if lastSparsity != step { addSparsity(step: step) }
        add(step: step, tag: "train_flops", value: Double(flops))
        add(step: step, tag: "wall_seconds", value: wall)
        if config.histograms && lastHistograms.map({ step - $0 >= histogramSteps }) ?? true {
            lastHistograms = step
            for p in all { histogram("weights/\(p.layerName)", step: step, values: p.liveValues) }
            methodHistograms(step, self)
        }
        flush()
    }

    /// `sparsity/overall` and `sparsity/<layer>` now, at `step`.
    func addSparsity(step: Int) {
        let all = model.prunableParameters
        add(step: step, tag: "sparsity/overall", value: Parameter.sparsity(all))
        for p in all { add(step: step, tag: "sparsity/\(p.layerName)", value: Parameter.sparsity([p])) }
    }

    public func pruningDidChange(step: Int) {
        timed {
            addSparsity(step: step)
            lastSparsity = step
            flush()
        }
    }

    /// The sampled weights of one layer at a trajectory record: `trajectory.<layer>/<index>`.
    func samples(step: Int, layer: String, indices: [Int], values: [Float]) {
        timed {
            for (i, v) in zip(indices, values) { add(step: step, tag: "trajectory.\(layer)/\(i)", value: Double(v)) }
        }
    }

    func add(step: Int, tag: String, value: Double) {
        if step != scalars.step { endScalars() }
        scalars.step = step
        scalars.values.append((tag, value))
    }

    func endScalars() {
        guard !scalars.values.isEmpty else { return }
        pending.append(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: scalars.step, payload: .scalars(scalars.values)))
        scalars.values = []
    }

    public func histogram(_ tag: String, step: Int, values: [Float]) {
        guard config.histograms, !values.isEmpty else { return }
        let h = TensorBoardEvent.Histogram(values, buckets: config.buckets)
        pending.append(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: step, payload: .histograms([(tag, h)])))
    }

    /// The HParams experiment and the run's HParams session start (a fresh run's first events).
    func sessionStart(_ hparams: [(name: String, value: HParamsSummary.Value)]) {
        timed {
            let now = Date().timeIntervalSince1970
            // the arm names the method: the method column is the one the dashboard hides at first
            let experiment = HParamsSummary.experiment(hparams: hparams, secondary: ["method"], metrics: Self.finalMetrics, time: now)
            let start = HParamsSummary.sessionStart(hparams: hparams, time: now)
            for (tag, content) in [(HParamsSummary.experimentTag, experiment), (HParamsSummary.sessionStartTag, start)] {
                pending.append(
                    TensorBoardEvent(
                        wallTime: now, step: 0, payload: .plugin(tag: tag, plugin: HParamsSummary.pluginName, content: content)))
            }
            flush()
        }
    }

    /// The metrics of the HParams dashboard: scalars written once, at the end of the run.
    static let finalMetrics = ["final/test_accuracy", "final/sparsity", "final/train_flops", "final/wall_seconds"]

    /// The final metrics (from `summary`, at `step`) and the session's end.
    func sessionEnd(step: Int, summary: SummaryRow) {
        timed {
            let values = [summary.testAccuracy, summary.sparsity, Double(summary.trainFLOPs), summary.wallSeconds]
            for (tag, v) in zip(Self.finalMetrics, values) { add(step: step, tag: tag, value: v) }
            end(.success, step: step)
        }
    }

    /// The session's end with `status` (a failed run's, or after `sessionEnd`'s metrics).
    func end(_ status: HParamsSummary.Status, step: Int) {
        let now = Date().timeIntervalSince1970
        endScalars()
        let content = HParamsSummary.sessionEnd(status, time: now)
        pending.append(
            TensorBoardEvent(
                wallTime: now, step: step,
                payload: .plugin(tag: HParamsSummary.sessionEndTag, plugin: HParamsSummary.pluginName, content: content)))
        flush()
    }

    /// Writes every pending event (one write, then the data reaches the file system).
    func flush() {
        endScalars()
        guard failure == nil, !pending.isEmpty else { return }
        var bytes: [UInt8] = []
        for e in pending { bytes += TFRecord.frame(e.encoded) }
        pending = []
        do { try handle.write(contentsOf: bytes) } catch { failure = error }
    }
}

extension TensorBoardRecorder: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/last_histograms", lastHistograms ?? -1)
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        let v = try archive.int("\(prefix)/last_histograms")
        lastHistograms = v < 0 ? nil : v
    }

    /// Marks a resumed run: events from step `step` on replace the earlier process's.
    func markResumed(at step: Int) {
        pending.append(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: step, payload: .sessionStart))
        flush()
    }
}

extension TensorBoardRecorder {
    /// The run's hyperparameters in the HParams dashboard: method, criterion, schedule, arm
    /// (`RunLabel.name`), seed, and the target sparsity (`Runner.targetSparsity`).
    static func hparams(_ config: ExperimentConfig, label: RunLabel, target: Double) -> [(name: String, value: HParamsSummary.Value)] {
        [
            ("method", .string(label.method)), ("criterion", .string(label.criterion)), ("schedule", .string(label.schedule)),
            ("arm", .string(label.name)), ("seed", .number(Double(config.seed))),
            ("target_sparsity", .number(target)),
        ]
    }
}

extension Parameter {
    /// The values of the unmasked weights (all of them without a mask).
    var liveValues: [Float] {
        guard let m = mask?.scalars else { return value.scalars }
        return zip(value.scalars, m).compactMap { $1 != 0 ? $0 : nil }
    }
}

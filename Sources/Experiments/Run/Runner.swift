import Foundation
import TensorCore
import NN
import Training
import Datasets

/// How `prunelab run` was asked to run.
public struct RunOptions: Sendable {
    public var outDir: String
    public var force: Bool
    public var progress: Bool
    public var command: String
    /// Behave as if SIGINT arrived after this step (tests of interruption and resume).
    public var interruptAfterStep: Int?
    /// The config file the run's config came from: named in the config errors found against the
    /// model and the data.
    public var configFile: String?
    /// Called as the run reaches each `RunStage` (tests and fault injection stop the process there).
    public var stageReached: (@Sendable (RunStage) -> Void)?
    /// Receives the progress lines a log gets (one per epoch, Han round, analysis series), with
    /// or without `progress` drawn.
    public var logLine: (@Sendable (String) -> Void)?

    public init(outDir: String, force: Bool = false, progress: Bool = true, command: String = "") {
        self.outDir = outDir
        self.force = force
        self.progress = progress
        self.command = command
    }
}

/// The points between the parts of a run that `RunOptions.stageReached` is told about.
public enum RunStage: String, Sendable, CaseIterable {
    /// Training and the method's after-training phase are over and the trajectory files are
    /// finished; the model files and the summary are not written yet.
    case trajectoriesFinished = "trajectories-finished"
}

/// What a finished run reports back to the CLI.
public struct RunOutcome {
    public var folder: RunFolder
    public var summary: SummaryRow
    /// Final masks of the prunable weights by parameter name (all ones where dense).
    public var masks: [String: Tensor]
    /// Warnings the run raised (a target not reached, ...).
    public var warnings: [String] = []
}

/// A run stopped by SIGINT or SIGTERM after finishing a step; `run.json` says `interrupted`
/// and `prunelab run --resume` continues from the last checkpoint.
public struct RunInterrupted: Error, CustomStringConvertible, Sendable {
    public var signal: Int32
    public var step: Int
    public var folder: String
    public var description: String {
        "\(folder): interrupted by signal \(signal) after step \(step); continue with prunelab run --resume \(folder)"
    }
    /// The conventional exit status, 128 + the signal (130 for SIGINT, 143 for SIGTERM).
    public var exitCode: Int32 { 128 + signal }
}

/// Runs one experiment end to end and writes its run folder: config ▶ data ▶ model and loop
/// ▶ method (from `MethodRegistry`) ▶ training ▶ the method's after-training phase ▶ outputs.
/// It names no method: everything method-specific is behind `PruningMethod`.
public enum Runner {
    /// A fresh run. The config, the data and everything the config asks of the model and the
    /// data (layer names, a schedule within training, ...) are checked before anything in the
    /// folder is written or removed, and before a new folder is created.
    public static func run(_ config: ExperimentConfig, options: RunOptions) throws -> RunOutcome {
        guard !options.outDir.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw RunError("the run folder's path is empty (it would be the working directory); give --out DIR")
        }
        let folder = RunFolder(path: options.outDir)
        let data = try config.data.load()
        let check = { try prepare(config, data: data, folder: folder) }
        let prepared = try options.configFile.map { try ConfigLoader.named($0, check) } ?? check()
        try folder.open(force: options.force)
        try folder.write(try ConfigLoader.canonicalJSON(config), to: "config.json")
        return try execute(prepared, folder: folder, options: options, resume: nil)
    }

    /// What a run builds before it touches its folder: the model with its optimizer and loop,
    /// and the method, whose construction checks the config against them.
    struct Prepared {
        let run: RunContext
        let method: any PruningMethod
    }

    /// Builds the model, its optimizer and loop, and the method, and checks the recording
    /// settings against the model; throws the config's errors that need the model or the data.
    static func prepare(_ config: ExperimentConfig, data: DataSplit, folder: RunFolder) throws -> Prepared {
        let training = try TrainingSession(config: config, data: data)
        let run = RunContext(config: config, data: data, session: training, folder: folder)
        let method = try MethodRegistry.entry(named: config.pruning.method)!.make(run)
        if config.recording.enabled { _ = try TrajectoryRecorder.recordedLayers(config.recording, model: training.model) }
        return Prepared(run: run, method: method)
    }

    /// Continues an interrupted or failed run from its last checkpoint (from the start when
    /// it has none), with the config its folder holds, which must be the config the checkpoint
    /// was taken with (checked before anything in the folder is touched).
    public static func resume(dir: String, options: RunOptions) throws -> RunOutcome {
        guard !dir.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw RunError("the run folder's path is empty (it would be the working directory); give --resume DIR")
        }
        let folder = RunFolder(path: dir)
        let info = try RunInfo.read(from: folder.url.appendingPathComponent("run.json"))
        guard info.status != .completed else { throw RunFolderError.alreadyComplete(path: dir) }
        let configPath = folder.url.appendingPathComponent("config.json").path
        let config = try ConfigLoader.load(path: configPath)
        let checkpoint = folder.url.appendingPathComponent(CheckpointFile.name)
        let archive = FileManager.default.fileExists(atPath: checkpoint.path) ? try CheckpointFile.read(checkpoint) : nil
        if let archive { try checkSameConfig(config, as: archive, configPath: configPath) }
        let data = try config.data.load()
        let prepared = try prepare(config, data: data, folder: folder)
        try folder.openForResume()
        return try execute(prepared, folder: folder, options: options, resume: (archive, info))
    }

    /// Refuses `config` (read from `configPath`) when it is not the config `archive` was taken
    /// with, naming the first key that differs. A checkpoint of a version that did not store
    /// its config is not checked.
    static func checkSameConfig(_ config: ExperimentConfig, as archive: StateArchive, configPath: String) throws {
        guard archive.has(RunState.configKey) else { return }
        let saved = Data(try archive.text(RunState.configKey).utf8)
        guard let d = try ConfigLoader.firstDifference(saved, try ConfigLoader.canonicalJSON(config)) else { return }
        throw RunFolderError.configEditedSinceCheckpoint(configPath: configPath, key: d.key, checkpoint: d.a, now: d.b)
    }

    static func execute(
        _ prepared: Prepared, folder: RunFolder, options: RunOptions, resume: (archive: StateArchive?, info: RunInfo)?
    ) throws -> RunOutcome {
        let run = prepared.run, config = run.config, session = run.session, method = prepared.method
        var info = RunInfo(
            version: RunInfo.toolVersion, gitCommit: BuildInfo.gitCommit,
            command: options.command, seed: config.seed, threads: BLAS.threads,
            blasCore: BLAS.coreName, started: resume?.info.started ?? RunInfo.timestamp(), ended: nil,
            status: .running, error: nil, pid: getpid(), step: nil,
            resumed: resume.map { ($0.info.resumed ?? 0) + 1 })
        var metrics: MetricsRecorder?
        var tensorBoard: TensorBoardRecorder?
        defer { folder.release() }
        do {
            if let k = options.interruptAfterStep { session.trainer.interruption = { $0 >= k ? SIGINT : nil } }
            info.threads = session.threads
            try info.write(to: folder)
            let (recorder, trajectories) = try installObservers(
                run, method: method, progress: options.progress, logLine: options.logLine,
                resume: resume?.archive)
            metrics = recorder
            tensorBoard = try installTensorBoard(run, method: method, metrics: recorder, trajectories: trajectories)
            let state = RunState(run: run, method: method, metrics: recorder, trajectories: trajectories, tensorBoard: tensorBoard)
            if let archive = resume?.archive { try state.restore(archive) }
            if resume != nil {
                tensorBoard?.markResumed(at: session.trainer.step + 1)
            } else {
                tensorBoard?.sessionStart(
                    TensorBoardRecorder.hparams(config, label: method.label, target: targetSparsity(config, method: method)))
            }
            try train(run, state: state)
            options.stageReached?(.trajectoriesFinished)
            let outcome = try writeOutputs(run, method: method, metrics: recorder, tensorBoard: tensorBoard)
            if let failure = tensorBoard?.failure { run.warn("\(tensorBoard?.name ?? "tb"): writing stopped: \(failure)") }
            try? FileManager.default.removeItem(at: folder.file(CheckpointFile.name))
            info.status = .completed
            info.ended = RunInfo.timestamp()
            info.pid = nil
            try info.write(to: folder)
            return outcome
        } catch {
            try? metrics?.save()
            info.ended = RunInfo.timestamp()
            info.pid = nil
            info.error = "\(error)"
            if case TrainingError.interrupted(let signal, let step) = error {
                info.status = .interrupted
                info.step = step
                try? info.write(to: folder)
                throw RunInterrupted(signal: signal, step: step, folder: folder.url.path)
            }
            info.status = .failed
            tensorBoard?.end(.failure, step: session.trainer.step)
            try? info.write(to: folder)
            throw error
        }
    }

    /// The sparsity the run aims at over the weights its method prunes (each layer's
    /// `pruning.layer_sparsity` or `target_sparsity`, weighted by its weights); 0 for a method
    /// that removes none.
    static func targetSparsity(_ config: ExperimentConfig, method: any PruningMethod) -> Double {
        guard type(of: method).removesWeights else { return 0 }
        let total = method.pruned.reduce(0) { $0 + $1.value.count }
        let removed = method.pruned.reduce(0.0) { $0 + config.pruning.finalTarget(layer: $1.layerName) * Double($1.value.count) }
        return removed / Double(max(total, 1))
    }

    /// The loop's observers: the method's first, then metrics, trajectories, progress and
    /// the checkpointer (last, so it saves what the others did at the epoch's end).
    static func installObservers(
        _ run: RunContext, method: any PruningMethod, progress: Bool, logLine: (@Sendable (String) -> Void)? = nil,
        resume: StateArchive?
    ) throws -> (MetricsRecorder, TrajectoryRecorder?) {
        let session = run.session, config = run.config, t = config.training
        let metrics = MetricsRecorder(
            url: run.folder.file("metrics.csv"), clock: session.clock,
            logSteps: t.logEvery.steps(perEpoch: session.stepsPerEpoch),
            evalSteps: t.evalEvery.steps(perEpoch: session.stepsPerEpoch),
            testImages: run.data.test.images, testLabels: run.data.test.labels,
            workers: session.evaluationWorkers)
        let trajectories =
            config.recording.enabled
            ? try TrajectoryRecorder(
                config: config.recording, model: session.model, folder: run.folder,
                rng: RandomSource(seed: config.seed).derived("recording"), resuming: resume)
            : nil
        let kernels = KernelRecorder(session: session)  // applies training.kernel
        run.kernels = kernels
        var observers: [TrainingObserver] = method.observers + [metrics, kernels]
        if let trajectories { observers.append(trajectories) }
        if progress || logLine != nil {
            let mode: ProgressBar.Mode = progress && isatty(2) == 1 ? .terminal : .lines
            let write = { (text: String) in if progress { ProgressBar.standardError(text) } }
            let status = { () -> (sparsity: Double, testAccuracy: Double?) in
                let (total, nonzero) = session.model.weightCounts
                return (total > 0 ? 1 - Double(nonzero) / Double(total) : 0, metrics.lastTest?.accuracy)
            }
            let bar = ProgressBar(
                totalSteps: session.plannedSteps + method.extraSteps, label: config.name, mode: mode, status: status, write: write)
            bar.logLine = logLine
            run.progress = bar
            observers.append(bar)
        }
        session.trainer.observers = observers
        return (metrics, trajectories)
    }

    /// The TensorBoard writer (with `tensorboard.enabled`): it mirrors every metrics row and
    /// takes the method's histograms.
    static func installTensorBoard(
        _ run: RunContext, method: any PruningMethod, metrics: MetricsRecorder, trajectories: TrajectoryRecorder?
    ) throws -> TensorBoardRecorder? {
        guard run.config.tensorboard.enabled else { return nil }
        let tb = try TensorBoardRecorder(config: run.config.tensorboard, folder: run.folder, session: run.session)
        metrics.onRecord = { tb.metric(step: $0, tag: $1, value: $2, wall: $3, flops: $4) }
        tb.methodHistograms = { method.histograms(step: $0, into: $1) }
        method.attach(tb)
        trajectories?.sampleSink = { tb.samples(step: $0, layer: $1, indices: $2, values: $3) }
        return tb
    }

    /// Trains (what is left of) the configured steps, runs the method's after-training phase
    /// and closes the trajectory files, checkpointing on the way. The session's clock starts
    /// here (on top of the seconds a checkpoint restored).
    static func train(_ run: RunContext, state: RunState) throws {
        let session = run.session, trainer = session.trainer
        session.clock.begin()
        let writer = CheckpointWriter()
        defer { try? writer.wait() }  // on every way out: no write outlives the run's training
        let checkpoint = {
            let t0 = Date()
            try writer.submit(state.archive(), to: run.folder.file(CheckpointFile.name))
            run.recordCheckpoint(seconds: Date().timeIntervalSince(t0))
        }
        var checkpointer: Checkpointer?
        if run.config.checkpoint.enabled {
            let c = Checkpointer(
                everySteps: run.config.checkpoint.every.steps(perEpoch: session.stepsPerEpoch),
                startStep: trainer.step, write: checkpoint)
            trainer.observers.append(c)
            run.checkpointHandler = checkpoint
            checkpointer = c
        }
        defer { run.checkpointHandler = {} }  // the handler holds the run: break the cycle
        if trainer.step < session.plannedSteps { try trainer.train(steps: session.plannedSteps - trainer.step) }
        try state.method.afterTraining(run)
        try writer.wait()
        if let failure = checkpointer?.failure { throw failure }
        try state.trajectories?.finish()
    }

    static func method(_ state: RunState) -> any PruningMethod { state.method }

    /// The final evaluation and every output file; returns the outcome.
    static func writeOutputs(
        _ run: RunContext, method: any PruningMethod, metrics: MetricsRecorder, tensorBoard: TensorBoardRecorder?
    ) throws -> RunOutcome {
        let session = run.session, folder = run.folder
        let test = session.evaluateTest()
        let train = session.evaluateTrain()
        let evalSteps = max(1, run.config.training.evalEvery.steps(perEpoch: session.stepsPerEpoch))
        if metrics.lastTest == nil || session.trainer.step % evalSteps != 0 {
            metrics.evaluate(session.model, step: session.trainer.step, epoch: session.trainer.epoch, flops: session.trainer.flops)
        }
        try metrics.save()
        var summary = makeSummary(run, label: method.label, train: train, test: test)
        summary.prunedSparsity = Parameter.sparsity(method.pruned)
        let sizes = try ModelFiles.write(model: session.model, config: run.config, to: folder)
        summary.denseBytes = sizes.denseBytes
        summary.sparseBytes = sizes.sparseBytes
        (summary.inferMsB1, summary.inferMsB128) = InferenceReport.measure(session.model, data: run.data)
        if run.config.training.quantize.enabled { try PostTrainingQuantization.writeQuantized(run, summary: &summary) }
        summary.extra.append(SummaryColumn("checkpoints", .int(run.checkpoints)))
        summary.extra.append(SummaryColumn("checkpoint_seconds", .double(run.checkpointSeconds)))
        if let tb = tensorBoard { summary.extra.append(SummaryColumn("tensorboard_seconds", .double(tb.seconds))) }
        try method.finish(run, summary: &summary)
        try run.kernels?.write(to: folder)
        tensorBoard?.sessionEnd(step: session.trainer.step, summary: summary)
        try summary.table.write(to: folder.file("summary.csv"))
        try LayerReport.table(session.model).write(to: folder.file("layers.csv"))
        var masks: [String: Tensor] = [:]
        for p in session.model.prunableParameters { masks[p.name] = p.keptMask }
        return RunOutcome(folder: folder, summary: summary, masks: masks, warnings: run.warnings)
    }

    /// The summary's common columns; `wall_seconds` is the run's seconds so far without the
    /// analysis, `train_seconds` that without the evaluations.
    static func makeSummary(_ run: RunContext, label: RunLabel, train: Evaluation, test: Evaluation) -> SummaryRow {
        let session = run.session, config = run.config
        // a network compacted during training is measured against the configured one
        let nonzero = session.model.weightCounts.nonzero, total = session.configuredWeightCount
        var s = SummaryRow()
        s.name = config.name
        s.dataset = config.data.displayName
        s.model = config.model.preset ?? "custom"
        s.label = label
        s.seed = config.seed
        s.epochs = Double(session.trainer.step) / Double(session.stepsPerEpoch)
        s.steps = session.trainer.step
        s.trainAccuracy = train.accuracy
        s.testAccuracy = test.accuracy
        s.testLoss = test.loss
        s.totalWeights = total
        s.nonzeroWeights = nonzero
        s.sparsity = 1 - Double(nonzero) / Double(total)
        s.trainFLOPs = session.trainer.flops
        s.denseTrainFLOPs = session.trainer.denseFLOPs
        let clock = session.clock
        s.wallSeconds = clock.wall - clock.analysisSeconds
        s.evalSeconds = clock.evalSeconds
        s.analysisSeconds = clock.analysisSeconds
        s.trainSeconds = s.wallSeconds - s.evalSeconds
        return s
    }
}

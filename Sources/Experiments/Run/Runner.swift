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

    public init(outDir: String, force: Bool = false, progress: Bool = true, command: String = "") {
        self.outDir = outDir
        self.force = force
        self.progress = progress
        self.command = command
    }
}

/// What a finished run reports back to the CLI.
public struct RunOutcome {
    public var folder: RunFolder
    public var summary: SummaryRow
    /// Final masks of the prunable weights by parameter name (all ones where dense).
    public var masks: [String: Tensor]
}

/// Runs one experiment end to end and writes its run folder: config ▶ data ▶ model and loop
/// ▶ method (from `MethodRegistry`) ▶ training ▶ the method's after-training phase ▶ outputs.
/// It names no method: everything method-specific is behind `PruningMethod`.
public enum Runner {
    public static func run(_ config: ExperimentConfig, options: RunOptions) throws -> RunOutcome {
        let folder = RunFolder(path: options.outDir)
        try folder.prepare(force: options.force)
        try folder.write(try ConfigLoader.canonicalJSON(config), to: "config.json")
        var info = RunInfo(version: RunInfo.toolVersion, gitCommit: BuildInfo.gitCommit,
                           command: options.command, seed: config.seed, threads: BLAS.threads,
                           blasCore: BLAS.coreName, started: RunInfo.timestamp(), ended: nil,
                           status: .running, error: nil)
        try info.write(to: folder)
        var metrics: MetricsRecorder?
        do {
            let data = try config.data.load()
            let session = try TrainingSession(config: config, data: data)
            info.threads = session.threads
            try info.write(to: folder)
            let run = RunContext(config: config, data: data, session: session, folder: folder)
            let method = try MethodRegistry.entry(named: config.pruning.method)!.make(run)
            let (recorder, trajectories) = try installObservers(run, method: method, progress: options.progress)
            metrics = recorder
            let wall = try train(run, method: method, trajectories: trajectories)
            let outcome = try writeOutputs(run, method: method, metrics: recorder, wall: wall)
            info.status = .completed
            info.ended = RunInfo.timestamp()
            try info.write(to: folder)
            return outcome
        } catch {
            try? metrics?.save()
            info.status = .failed
            info.error = "\(error)"
            info.ended = RunInfo.timestamp()
            try? info.write(to: folder)
            throw error
        }
    }

    /// The loop's observers: the method's first, then metrics, trajectories and progress.
    static func installObservers(_ run: RunContext, method: any PruningMethod,
                                 progress: Bool) throws -> (MetricsRecorder, TrajectoryRecorder?) {
        let session = run.session, config = run.config, t = config.training
        let metrics = MetricsRecorder(url: run.folder.file("metrics.csv"),
                                      logSteps: t.logEvery.steps(perEpoch: session.stepsPerEpoch),
                                      evalSteps: t.evalEvery.steps(perEpoch: session.stepsPerEpoch),
                                      testImages: run.data.test.images, testLabels: run.data.test.labels,
                                      workers: session.evaluationWorkers)
        let trajectories = config.recording.enabled
            ? try TrajectoryRecorder(config: config.recording, model: session.model, folder: run.folder,
                                     rng: RandomSource(seed: config.seed).derived("recording"))
            : nil
        var observers: [TrainingObserver] = method.observers + [metrics]
        if let trajectories { observers.append(trajectories) }
        if progress {
            observers.append(ProgressBar(totalSteps: session.plannedSteps + method.extraSteps, label: config.name))
        }
        session.trainer.observers = observers
        return (metrics, trajectories)
    }

    /// Trains, runs the method's after-training phase and closes the trajectory files;
    /// returns the wall seconds spent, analysis excluded.
    static func train(_ run: RunContext, method: any PruningMethod, trajectories: TrajectoryRecorder?) throws -> Double {
        let clock = Date()
        try run.session.trainer.train(steps: run.session.plannedSteps)
        try method.afterTraining(run)
        try trajectories?.finish()
        return Date().timeIntervalSince(clock) - run.analysisSeconds
    }

    /// The final evaluation and every output file; returns the outcome.
    static func writeOutputs(_ run: RunContext, method: any PruningMethod, metrics: MetricsRecorder,
                             wall: Double) throws -> RunOutcome {
        let session = run.session, folder = run.folder
        let clock = Date()
        let test = session.evaluateTest()
        let train = session.evaluateTrain()
        let evalSteps = max(1, run.config.training.evalEvery.steps(perEpoch: session.stepsPerEpoch))
        if metrics.lastTest == nil || session.trainer.step % evalSteps != 0 {
            metrics.evaluate(session.model, step: session.trainer.step, epoch: session.trainer.epoch)
        }
        try metrics.save()
        var summary = makeSummary(run, label: method.label, train: train, test: test,
                                  wall: wall + Date().timeIntervalSince(clock))
        summary.prunedSparsity = Parameter.sparsity(method.pruned)
        let sizes = try ModelFiles.write(model: session.model, config: run.config, to: folder)
        summary.denseBytes = sizes.denseBytes
        summary.sparseBytes = sizes.sparseBytes
        (summary.inferMsB1, summary.inferMsB128) = InferenceReport.measure(session.model, data: run.data)
        try method.finish(run, summary: &summary)
        try summary.table.write(to: folder.file("summary.csv"))
        try LayerReport.table(session.model).write(to: folder.file("layers.csv"))
        var masks: [String: Tensor] = [:]
        for p in session.model.prunableParameters { masks[p.name] = p.keptMask }
        return RunOutcome(folder: folder, summary: summary, masks: masks)
    }

    static func makeSummary(_ run: RunContext, label: RunLabel, train: Evaluation, test: Evaluation,
                            wall: Double) -> SummaryRow {
        let session = run.session, config = run.config
        let (total, nonzero) = session.model.weightCounts
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
        s.wallSeconds = wall
        return s
    }
}

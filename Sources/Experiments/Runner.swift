import Foundation
import TensorCore
import NN
import Training
import Datasets

/// How `prunelab run` was asked to run.
public struct RunOptions {
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
    public var summary: Summary
    /// Final masks of the prunable weights by parameter name (all ones where dense).
    public var masks: [String: Tensor]
}

/// Runs one experiment end to end and writes its run folder.
public enum Runner {
    public static func run(_ config: ExperimentConfig, options: RunOptions) throws -> RunOutcome {
        let folder = RunFolder(path: options.outDir)
        try folder.prepare(force: options.force)
        try folder.write(try ConfigLoader.canonicalJSON(config), to: "config.json")
        var info = RunInfo(version: RunInfo.toolVersion, gitCommit: RunInfo.currentGitCommit(),
                           command: options.command, seed: config.seed, threads: BLAS.threads,
                           blasCore: BLAS.coreName, started: RunInfo.timestamp(), ended: nil,
                           status: "running", error: nil)
        try info.write(to: folder)
        var recorder: MetricsRecorder?
        do {
            let data = try config.data.load()
            let session = try TrainingSession(config: config, data: data)
            info.threads = session.threads
            try info.write(to: folder)
            let t = config.training
            let rec = MetricsRecorder(url: folder.file("metrics.csv"),
                                      logSteps: t.logEvery.steps(perEpoch: session.stepsPerEpoch),
                                      evalSteps: t.evalEvery.steps(perEpoch: session.stepsPerEpoch),
                                      testImages: data.test.images, testLabels: data.test.labels,
                                      workers: session.evaluationWorkers)
            recorder = rec
            session.trainer.observers.append(rec)
            let kernels = KernelRecorder(session: session)  // applies training.kernel
            session.trainer.observers.append(kernels)
            let han = config.pruning.method == .han ? try HanPipeline(config: config.pruning, session: session) : nil
            let dynamic = config.pruning.method == .dynamic ? try DynamicPruner(config: config.pruning, session: session) : nil
            if let dynamic { session.trainer.observers.insert(dynamic, at: 0) }
            let structured = config.pruning.method == .structured
                ? try StructuredPruner(config: config.pruning.structured, session: session) : nil
            if let structured { session.trainer.observers.insert(structured, at: 0) }
            let trajectories = config.recording.enabled
                ? try TrajectoryRecorder(config: config.recording, model: session.model, folder: folder,
                                         rng: RandomSource(seed: config.seed).derived("recording"))
                : nil
            if let trajectories { session.trainer.observers.append(trajectories) }
            let retrainSteps = config.pruning.retrain.steps(perEpoch: session.stepsPerEpoch)
            var totalSteps = session.plannedSteps + (han == nil ? 0 : config.pruning.rounds * retrainSteps)
            if structured != nil { totalSteps += config.pruning.structured.finetune.steps(perEpoch: session.stepsPerEpoch) }
            if options.progress {
                session.trainer.observers.append(ProgressBar(totalSteps: totalSteps, label: config.name))
            }
            let clock = Date()
            var analysisSeconds = 0.0  // the prune curve is analysis, not part of the method's cost
            try session.trainer.train(steps: session.plannedSteps)
            if let han {
                if config.pruning.curve.enabled {
                    let curveClock = Date()
                    defer { analysisSeconds += Date().timeIntervalSince(curveClock) }
                    let curve = PruneCurve.compute(model: session.model, parameters: han.pruned,
                                                   grid: config.pruning.curve.grid, perLayer: config.pruning.curve.perLayer,
                                                   testImages: data.test.images, testLabels: data.test.labels,
                                                   workers: session.evaluationWorkers)
                    try curve.write(to: folder.file("prune-curve.csv"))
                }
                let rounds = try han.run()
                try rounds.write(to: folder.file("rounds.csv"))
            }
            if let dynamic { try dynamic.events.write(to: folder.file("events.csv")) }
            try kernels.write(to: folder)
            if let structured {
                try structured.finish()
                try structured.events.write(to: folder.file("events.csv"))
            }
            try trajectories?.finish()
            let test = session.evaluateTest()
            let train = session.evaluateTrain()
            let wall = Date().timeIntervalSince(clock) - analysisSeconds
            if rec.lastTest == nil || session.trainer.step % max(1, t.evalEvery.steps(perEpoch: session.stepsPerEpoch)) != 0 {
                rec.evaluate(session.model, step: session.trainer.step, epoch: session.trainer.epoch)
            }
            try rec.save()

            let method = han != nil ? "han" : (dynamic?.methodName ?? structured?.methodName ?? "dense")
            var summary = makeSummary(config: config, session: session, method: method,
                                      train: train, test: test, flops: session.trainer.flops,
                                      denseFLOPs: session.trainer.denseFLOPs, wall: wall)
            let prunedParams = han?.pruned ?? dynamic?.pruned ?? structured?.pruned ?? session.model.prunableParameters
            summary["pruned_sparsity"] = .double(HanPipeline.sparsity(prunedParams))
            let sizes = try ModelFiles.write(model: session.model, config: config, to: folder)
            summary["dense_bytes"] = .int(sizes.denseBytes)
            summary["sparse_bytes"] = .int(sizes.sparseBytes)
            var extra = ["pruned_sparsity", "dense_bytes", "sparse_bytes"]
            extra += try InferenceReport.measure(session.model, data: data, into: &summary, prefix: "")
            if structured != nil {
                extra += try InferenceReport.compact(session.model, config: config, data: data, folder: folder,
                                                     workers: session.evaluationWorkers, into: &summary)
            }
            try summary.table(extraColumns: extra).write(to: folder.file("summary.csv"))
            try LayerReport.table(session.model).write(to: folder.file("layers.csv"))
            info.status = "completed"
            info.ended = RunInfo.timestamp()
            try info.write(to: folder)
            var masks: [String: Tensor] = [:]
            for p in session.model.prunableParameters {
                masks[p.name] = p.mask ?? Tensor(shape: p.value.shape, repeating: 1)
            }
            return RunOutcome(folder: folder, summary: summary, masks: masks)
        } catch {
            try? recorder?.save()
            info.status = "failed"
            info.error = "\(error)"
            info.ended = RunInfo.timestamp()
            try? info.write(to: folder)
            throw error
        }
    }

    static func makeSummary(config: ExperimentConfig, session: TrainingSession, method: String,
                            train: Evaluation, test: Evaluation, flops: Int, denseFLOPs: Int,
                            wall: Double) -> Summary {
        let (total, nonzero) = session.model.weightCounts
        var s = Summary()
        s["name"] = .string(config.name)
        s["dataset"] = .string(config.data.displayName)
        s["model"] = .string(config.model.preset ?? "custom")
        s["method"] = .string(method)
        s["seed"] = .int(Int(config.seed))
        s["epochs"] = .double(Double(session.trainer.step) / Double(session.stepsPerEpoch))
        s["steps"] = .int(session.trainer.step)
        s["train_accuracy"] = .double(train.accuracy)
        s["test_accuracy"] = .double(test.accuracy)
        s["test_loss"] = .double(test.loss)
        s["total_weights"] = .int(total)
        s["nonzero_weights"] = .int(nonzero)
        s["sparsity"] = .double(1 - Double(nonzero) / Double(total))
        s["train_flops"] = .int(flops)
        s["dense_train_flops"] = .int(denseFLOPs)
        s["wall_seconds"] = .double(wall)
        return s
    }
}

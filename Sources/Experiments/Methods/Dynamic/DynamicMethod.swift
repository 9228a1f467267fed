import Schema
import TensorCore
import NN
import Training
import Pruning

/// Pruning during training: a criterion (which weights) on a schedule (when, how many), both
/// plug-ins from their registries. Artifact: `events.csv`, one row per check and layer.
public final class DynamicMethod: PruningMethod {
    public static let name = "dynamic"
    public static let summary = "prune while training: a criterion on a schedule (see criteria and schedules)"
    public static let defaultSchedule = "cubic"
    let settings: DynamicSettings
    let pruner: DynamicPruner
    /// Extrapolate-and-freeze, when `pruning.dynamic.freeze.enabled`.
    let freezer: Freezer?

    /// One arm per criterion and schedule it supports, named `criterion` on the default
    /// (`cubic`) schedule and `criterion/schedule` otherwise; each criterion's preferred
    /// schedule is run by default.
    public static func arms(for base: ExperimentConfig) -> [MethodArm] {
        var arms: [MethodArm] = []
        for c in CriterionRegistry.all {
            for s in ScheduleRegistry.all where !s.needsFinished || c.decidesFinished {
                arms.append(
                    MethodArm(
                        name: s.name == defaultSchedule ? c.name : "\(c.name)/\(s.name)",
                        overrides: [
                            "pruning.method=dynamic", "pruning.dynamic.criterion=\(c.name)",
                            "pruning.dynamic.schedule=\(s.name)",
                        ],
                        isDefault: s.name == c.preferredSchedule))
            }
        }
        return arms
    }

    public init(settings: DynamicSettings, run: RunContext) throws {
        self.settings = settings
        let session = run.session
        let pruned = try PrunedWeights.select(run.pruning, model: session.model)
        let root = RandomSource(seed: run.config.seed)
        let probe = GradientProbe(
            trainer: session.trainer, images: run.data.train.images,
            labels: run.data.train.labels, pruned: pruned)
        let trainer = session.trainer
        let timeline = LearningRateTimeline(plannedSteps: session.plannedSteps) {
            trainer.schedule.learningRate(atStep: $0 + trainer.scheduleOffset)
        }
        let context = CriterionContext(
            parameters: pruned, stepsPerEpoch: session.stepsPerEpoch,
            rng: root.derived("criterion.\(settings.criterion)"), gradients: probe, timeline: timeline)
        let criterion = try CriterionRegistry.entry(named: settings.criterion)!
            .make(settings: settings.criterionSettings.value, context: context)
        let schedule = try ScheduleRegistry.entry(named: settings.schedule)!
            .make(
                settings: settings.scheduleSettings.value,
                context: ScheduleContext(stepsPerEpoch: session.stepsPerEpoch, plannedSteps: session.plannedSteps))
        pruner = DynamicPruner(
            pruned: pruned, criterion: criterion, schedule: schedule, optimizer: session.optimizer,
            targets: pruned.map { run.pruning.finalTarget(layer: $0.layerName) }, waitForStatistics: settings.waitForStatistics)
        freezer =
            settings.freeze.enabled
            ? try Freezer(settings: settings.freeze, pruned: pruned, context: context, optimizer: session.optimizer) : nil
    }

    public var label: RunLabel { RunLabel(method: Self.name, criterion: settings.criterion, schedule: settings.schedule) }
    public var observers: [TrainingObserver] { [pruner] + (freezer.map { [$0] } ?? []) }
    public var pruned: [Parameter] { pruner.pruned }

    /// The criterion's statistics over each layer's live weights (`criterion/<name>/<stat>/<layer>`).
    public func histograms(step: Int, into sink: HistogramSink) {
        for (i, p) in pruned.enumerated() {
            // a masked weight's live entries, in order: its sparsity pattern's CSR entries
            let stats =
                p.sparsityPattern.map { pattern in
                    pruner.criterion.statistics(index: i, at: pattern.csrFlat.map(Int.init))
                } ?? pruner.criterion.statistics(index: i)
            for stat in stats {
                sink.histogram("criterion/\(settings.criterion)/\(stat.name)/\(p.layerName)", step: step, values: stat.values)
            }
        }
    }

    public func attach(_ sink: HistogramSink) { pruner.sink = sink }

    public func save(into archive: StateArchive, prefix: String) {
        pruner.save(into: archive, prefix: prefix)
        freezer?.save(into: archive, prefix: "\(prefix)/freeze")
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        try pruner.restore(from: archive, prefix: prefix)
        try freezer?.restore(from: archive, prefix: "\(prefix)/freeze")
    }

    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {
        try pruner.events.write(to: run.folder.file("events.csv"))
        if let note = pruner.deferredWarning { run.warn(note) }
        if let freezer {
            try freezer.events.write(to: run.folder.file("freeze.csv"))
            summary.extra.append(SummaryColumn("frozen_weights", .int(pruned.reduce(0) { $0 + $1.frozenIndices.count })))
        }
        // The requested sparsity over the pruned weights, beside what was reached (NaN for
        // schedules with no target); a run that ends short says so.
        let total = pruned.reduce(0) { $0 + $1.value.count }
        let pruning = run.pruning
        let requested =
            ScheduleRegistry.entry(named: settings.schedule)!.needsFinished
            ? Double.nan
            : pruned.reduce(0.0) { $0 + pruning.finalTarget(layer: $1.layerName) * Double($1.value.count) } / Double(max(total, 1))
        summary.extra.append(SummaryColumn("target_sparsity", .double(requested)))
        let reached = Parameter.sparsity(pruned)
        if requested - reached > 1e-3 {
            run.warn(
                "\(label.name): the pruned layers reached sparsity \(String(format: "%.4f", reached)) of the requested \(String(format: "%.4f", requested)): the schedule's checks ran out (train longer, end the ramp earlier or raise max_per_check)"
            )
        }
    }
}

import Foundation
import TensorCore
import NN
import Training
import Pruning

/// Prunes while the network trains: an observer that, at every check of its schedule, asks
/// the schedule how much each pruned layer may lose and lets the criterion's scores pick the
/// weights, and writes one `events.csv` row per layer and check.
///
/// Selection is exact (`Selection.lowest` over the alive weights, or over the alive weights
/// the criterion calls finished); the layer's final target is never exceeded by the `cubic`
/// and `init` schedules.
///
/// A criterion that scores from trajectories makes no trajectory decision without one: while
/// its window holds fewer records than a fit needs (or, with `wait_for_statistics`, until the
/// window is full) a check prunes nothing; its `events.csv` rows say so (`pruned` 0 and the
/// window's `trajectory_records`), and the run warns once. Its rows also split every check's
/// picks into `by_trajectory` and `by_magnitude`. Masks go to the weights and the optimizer state at once, so pruned
/// weights cost no FLOPs from the next step on.
public final class DynamicPruner: TrainingObserver {
    public let pruned: [Parameter]
    let criterion: AnyCriterion
    let schedule: any Schedule
    let optimizer: any Optimizer
    let targets: [Double]
    public private(set) var events: CSVTable
    var initialized = false
    /// Checks wait for a full trajectory window, not only a usable one.
    let waitForStatistics: Bool
    /// Whether the criterion reads trajectories (its events rows carry the window and the split).
    let readsTrajectories: Bool
    /// The first check that pruned nothing for want of a trajectory, as a warning (once).
    public private(set) var deferredWarning: String?
    /// Set once the schedule says no later check can prune: from then on the criterion is no
    /// longer fed (for `linear` and `stalled` that skips the trajectory statistics, about a
    /// tenth of a LeNet-300-100 epoch) and checks are skipped. Results are unchanged.
    public private(set) var finishedAtStep: Int?
    /// Receives, at each check, histograms of what it pruned: `pruned/<layer>/weight` and the
    /// criterion's statistics of those weights (`pruned/<layer>/<stat>`).
    weak var sink: HistogramSink?

    init(
        pruned: [Parameter], criterion: AnyCriterion, schedule: any Schedule, optimizer: any Optimizer, targets: [Double],
        waitForStatistics: Bool = false
    ) {
        self.pruned = pruned
        self.criterion = criterion
        self.schedule = schedule
        self.optimizer = optimizer
        self.targets = targets
        self.waitForStatistics = waitForStatistics
        readsTrajectories = criterion.trajectoryWindow != nil
        events = CSVTable(
            columns: ["step", "layer", "pruned", "sparsity_after", "target_sparsity", "mean_abs_weight_pruned"]
                + (readsTrajectories ? ["trajectory_records", "by_trajectory", "by_magnitude"] : [])
                + criterion.reportColumns)
    }

    /// Why a check at this moment may not prune (the window is too short), nil when it may.
    func trajectoryShortfall() -> TrajectoryWindow? {
        guard let w = criterion.trajectoryWindow else { return nil }
        return w.isUsable && (!waitForStatistics || w.isFull) ? nil : w
    }

    public func trainingWillStart(_ trainer: Trainer) {
        guard !initialized else { return }
        initialized = true
        if schedule.checksAtInitialization {
            criterion.prepareAtInitialization()
            check(step: trainer.step)
        }
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        guard finishedAtStep == nil else { return .continue }
        criterion.observe(step: info.step)
        if schedule.isCheck(step: info.step) { check(step: info.step) }
        return .continue
    }

    /// One pruning check at step `t`; a check that wrote `events.csv` rows reports the new
    /// sparsities to the sink.
    func check(step t: Int) {
        let rows = events.rows.count
        prunePerSchedule(step: t)
        if events.rows.count > rows { sink?.pruningDidChange(step: t) }
    }

    /// What the schedule asks of each layer at step `t`, picked by the criterion.
    func prunePerSchedule(step t: Int) {
        if let w = trajectoryShortfall() {
            deferCheck(step: t, window: w)
            return
        }
        var changed = false
        var after: [LayerState] = []
        for (i, p) in pruned.enumerated() {
            let alive = MagnitudePruner.alive(p)
            let aliveCount = alive.reduce(0) { $0 + ($1 ? 1 : 0) }
            let picked = prune(
                p, index: i, alive: alive, request: schedule.request(step: t, layer: layerState(i, alive: aliveCount)), step: t)
            changed = changed || !picked.isEmpty
            after.append(layerState(i, alive: aliveCount - picked.count))
        }
        criterion.checkDidEnd()
        if changed { optimizer.applyMasksToState() }
        if schedule.isFinished(after: t, layers: after) { finishedAtStep = t }
    }

    /// Pruned parameter `i` as the schedule sees it, with `alive` live weights.
    func layerState(_ i: Int, alive: Int) -> LayerState {
        LayerState(name: pruned[i].layerName, total: pruned[i].value.count, alive: alive, finalTarget: targets[i])
    }

    /// A check that prunes nothing because the criterion's trajectory window is too short: one
    /// `events.csv` row per layer the schedule wanted to prune, and a warning the first time.
    func deferCheck(step t: Int, window w: TrajectoryWindow) {
        var wanted = 0
        for (i, p) in pruned.enumerated() {
            let request = schedule.request(step: t, layer: layerState(i, alive: p.activeCount))
            guard request.count > 0 else { continue }
            wanted += request.count
            events.append(
                [
                    .int(t), .string(p.layerName), .int(0), .double(Parameter.sparsity([p])), .double(request.target), .string(""),
                    .int(w.records), .int(0), .int(0),
                ] + criterion.reportColumns.map { _ in .string("") })
        }
        if wanted > 0 && deferredWarning == nil {
            let need = waitForStatistics ? "the full window of \(w.full)" : "the \(w.needed) a fit needs"
            deferredWarning =
                "\(criterion.name): the check at step \(t) pruned nothing: the trajectory window holds \(w.records) records, not \(need) (events.csv lists every such check)"
        }
    }

    /// Masks what `request` picks from parameter `p` (index `i`) and logs it; returns the picks.
    func prune(_ p: Parameter, index i: Int, alive: [Bool], request: PruneRequest, step t: Int) -> [Int] {
        guard request.count > 0 else { return [] }
        let picked = pick(request, index: i, alive: alive)
        guard !picked.isEmpty else { return [] }
        let meanAbs = picked.reduce(0.0) { $0 + Double(abs(p.value.scalars[$1])) } / Double(picked.count)
        let stats = criterion.report(index: i, pruned: picked)
        if let sink { sink.timed { report(picked, of: p, index: i, step: t, to: sink) } }
        var split: [CSVValue] = []
        if let w = criterion.trajectoryWindow {
            let byTrajectory = criterion.chosenByTrajectory(index: i, pruned: picked) ?? 0
            split = [.int(w.records), .int(byTrajectory), .int(picked.count - byTrajectory)]
        }
        var mask = p.keptMask
        for j in picked { mask.scalars[j] = 0 }
        p.setMask(mask)
        events.append(
            [
                .int(t), .string(p.layerName), .int(picked.count), .double(Parameter.sparsity([p])),
                .double(request.target), .double(meanAbs),
            ] + split + stats.map { $0.map(CSVValue.double) ?? .string("") })
        return picked
    }

    /// Histograms of the weights `picked` from parameter `index` at step `t`, before the mask.
    func report(_ picked: [Int], of p: Parameter, index: Int, step t: Int, to sink: HistogramSink) {
        let w = p.value.scalars
        sink.histogram("pruned/\(p.layerName)/weight", step: t, values: picked.map { w[$0] })
        for stat in criterion.statistics(index: index, at: picked) {
            sink.histogram("pruned/\(p.layerName)/\(stat.name)", step: t, values: stat.values)
        }
    }

    func save(into archive: StateArchive, prefix: String) {
        criterion.save(into: archive, prefix: "\(prefix)/criterion")
        archive.set("\(prefix)/events", text: events.text)
        archive.set("\(prefix)/initialized", initialized ? 1 : 0)
        archive.set("\(prefix)/finished_at", finishedAtStep ?? -1)
        if let deferredWarning { archive.set("\(prefix)/deferred_warning", text: deferredWarning) }
    }

    func restore(from archive: StateArchive, prefix: String) throws {
        try criterion.restore(from: archive, prefix: "\(prefix)/criterion")
        events = try CSVTable(columns: events.columns, text: try archive.text("\(prefix)/events"))
        initialized = try archive.int("\(prefix)/initialized") == 1
        // Checkpoints written before this key existed resume as "not finished" (same results).
        let finished = archive.has("\(prefix)/finished_at") ? try archive.int("\(prefix)/finished_at") : -1
        finishedAtStep = finished >= 0 ? finished : nil
        deferredWarning = archive.has("\(prefix)/deferred_warning") ? try archive.text("\(prefix)/deferred_warning") : nil
    }

    /// The weights of parameter `i` that `request` prunes.
    func pick(_ request: PruneRequest, index i: Int, alive: [Bool]) -> [Int] {
        let scores = criterion.scores(index: i)
        switch request.pick {
        case .lowest:
            return Selection.lowest(scores, alive: alive, count: request.count)
        case .finished:
            guard let finished = criterion.finished(index: i) else { return [] }
            let candidates = zip(alive, finished).map { $0 && $1 }
            let n = candidates.reduce(0) { $0 + ($1 ? 1 : 0) }
            return Selection.lowest(scores, alive: candidates, count: min(n, request.count))
        }
    }
}

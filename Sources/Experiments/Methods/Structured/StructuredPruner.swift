import Foundation
import Schema
import TensorCore
import NN
import Training
import Pruning

/// Structured (filter / neuron) pruning of a training session, then compaction.
///
/// In `soft` mode it observes training: at every `every` boundary from `start` it ranks each
/// listed layer's units with the criterion and zeroes the lowest (weights and bias,
/// not their momentum), leaving them free to train back. `finish()` then makes the final selection
/// permanent with masks, fine-tunes if asked, and `events.csv` gets one row per selection and
/// layer (which units went, how many of them were also zeroed the time before).
///
/// With `compact_during_training` the selected units leave the network at the configured
/// point (`Compaction.removeUnits`) and training goes on with the smaller one; there are no
/// selections afterwards. See `StructuredPruner+Compaction.swift`.
public final class StructuredPruner: TrainingObserver {
    let config: StructuredSettings
    let criterion: any UnitCriterion.Type
    let session: TrainingSession
    public internal(set) var layers: [UnitLayer]
    let removeCounts: [Int]
    let startStep: Int, everySteps: Int
    /// Units zeroed at the previous selection, per layer (for the churn column).
    var previous: [[Bool]]
    /// The step the final selection was made at (nil before it).
    var finetuneStart: Int?
    /// Told of every selection (TensorBoard's sparsity scalars).
    weak var sink: HistogramSink?
    /// The step the units were removed at during training (nil: not, or not yet).
    var compactedAt: Int?
    /// Kept unit indices (into the layer as built) per pruned layer, set when compacted.
    var keptUnits: [String: [Int]] = [:]
    /// Selections in a row that chose the same units as the one before (for `when_stable`).
    var stableSelections = 0
    let compactStep: Int?
    public private(set) var events = CSVTable(columns: [
        "step", "layer", "units", "removed", "changed_since_last",
        "mean_score_removed", "mean_score_kept",
    ])

    public init(config: StructuredSettings, session: TrainingSession) throws {
        self.config = config
        criterion = UnitCriterionRegistry.criterion(named: config.criterion)!
        self.session = session
        let all = StructuredPruning.unitLayers(session.model)
        guard let output = all.last else { throw ConfigError(path: "pruning.structured", "the model has no weighted layers") }
        let convNames = session.model.layers.compactMap { ($0 as? Conv2D)?.name }  // the default: every conv layer
        let names = config.layers ?? convNames
        if names.isEmpty {
            throw ConfigError(path: "pruning.structured.layers", "the model has no conv layers; list the dense layers to prune")
        }
        var chosen: [UnitLayer] = []
        for (i, n) in names.enumerated() {
            guard let l = all.first(where: { $0.name == n }) else {
                throw ConfigError(
                    path: "pruning.structured.layers[\(i)]",
                    "no layer \"\(n)\"; weighted layers: \(all.map(\.name).joined(separator: ", "))")
            }
            if n == output.name {
                throw ConfigError(path: "pruning.structured.layers[\(i)]", "\"\(n)\" is the output layer; its units are the classes")
            }
            chosen.append(l)
        }
        for k in config.layerRatio.keys where !names.contains(k) {
            throw ConfigError(
                path: "pruning.structured.layer_ratio.\(k)", "\"\(k)\" is not among the pruned layers (\(names.joined(separator: ", ")))")
        }
        layers = chosen
        removeCounts = chosen.map { StructuredPruning.removeCount(units: $0.units, ratio: config.layerRatio[$0.name] ?? config.ratio) }
        let perEpoch = session.stepsPerEpoch
        startStep = config.start.steps(perEpoch: perEpoch)
        everySteps = config.every.steps(perEpoch: perEpoch)
        previous = chosen.map { [Bool](repeating: true, count: $0.units) }
        compactStep = config.compactDuringTraining?.at?.steps(perEpoch: perEpoch)
        if config.compactDuringTraining != nil { try Self.checkCompactable(session.model, config: session.config) }
        if let at = config.compactDuringTraining?.at, let step = compactStep, step >= session.plannedSteps {
            throw ConfigError(
                path: "pruning.structured.compact_during_training.at",
                "\(at) is at or after the end of training (\(session.plannedSteps) steps); the units would never be removed")
        }
    }

    /// The weights the method prunes (for `pruned_sparsity`).
    public var pruned: [Parameter] { layers.map(\.weight) }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        guard compactedAt == nil, info.step < session.plannedSteps else { return .continue }
        if info.step == compactStep {
            select(step: info.step, permanent: true)
            compactNow(step: info.step)
            return .continue
        }
        guard config.mode == .soft, info.step >= startStep, (info.step - startStep) % everySteps == 0 else { return .continue }
        let unchanged = select(step: info.step, permanent: false)
        stableSelections = unchanged ? stableSelections + 1 : 0
        if let n = config.compactDuringTraining?.whenStable, stableSelections >= n { compactNow(step: info.step) }
        return .continue
    }

    /// Ranks every listed layer and zeroes (soft) or masks (permanent) the lowest units;
    /// returns whether every layer chose the same units as at the previous selection.
    @discardableResult
    func select(step: Int, permanent: Bool) -> Bool {
        var unchanged = true
        for (i, layer) in layers.enumerated() {
            let alive = [Bool](repeating: true, count: layer.units)
            let scores = StructuredPruning.scores(layer, criterion: criterion, alive: alive)
            let kept = StructuredPruning.keep(scores: scores, alive: alive, remove: removeCounts[i])
            if permanent {
                StructuredPruning.applyMask(layer, kept: kept)
            } else {
                StructuredPruning.zero(layer, kept: kept)
            }
            let changed = zip(kept, previous[i]).filter { $0 != $1 }.count
            if changed > 0 { unchanged = false }
            previous[i] = kept
            let removedScores = zip(scores, kept).filter { !$1 }.map { Double($0.0) }
            let keptScores = zip(scores, kept).filter { $1 }.map { Double($0.0) }
            let mean = { (xs: [Double]) in xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
            events.append([
                .int(step), .string(layer.name), .int(layer.units), .int(removeCounts[i]), .int(changed),
                .double(mean(removedScores)), .double(mean(keptScores)),
            ])
        }
        // Soft zeroing leaves the momentum alone, as the authors' code does (it multiplies the
        // weights by the mask after each epoch and nothing else); masks also clear it.
        if permanent { session.optimizer.applyMasksToState() }
        sink?.pruningDidChange(step: step)
        return unchanged
    }

    /// Makes the final selection permanent and fine-tunes with the masks held (resumable: a
    /// resumed run skips the selection it already made and fine-tunes the remaining steps).
    public func finish() throws {
        let trainer = session.trainer
        if finetuneStart == nil {
            // compacted during training: the selection is made and its units are gone
            if compactedAt == nil { select(step: trainer.step, permanent: true) }
            finetuneStart = trainer.step
        }
        let steps = config.finetune.steps(perEpoch: session.stepsPerEpoch)
        let remaining = steps - (trainer.step - finetuneStart!)
        guard remaining > 0 else { return }
        trainer.schedule = LearningRateSchedule(base: config.finetuneLearningRate, kind: .cosine(total: steps, minimum: 0))
        trainer.scheduleOffset = -finetuneStart!
        try trainer.train(steps: remaining)
    }

    func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/events", text: events.text)
        for (i, p) in previous.enumerated() { archive.set("\(prefix)/previous/\(i)", p.map { Int64($0 ? 1 : 0) }) }
        archive.set("\(prefix)/finetune_start", finetuneStart ?? -1)
        saveCompaction(into: archive, prefix: prefix)
    }

    func restore(from archive: StateArchive, prefix: String) throws {
        events = try CSVTable(columns: events.columns, text: try archive.text("\(prefix)/events"))
        for i in previous.indices { previous[i] = try archive.ints("\(prefix)/previous/\(i)").map { $0 == 1 } }
        let f = try archive.int("\(prefix)/finetune_start")
        finetuneStart = f < 0 ? nil : f
        try restoreCompactionCounters(from: archive, prefix: prefix)
    }
}

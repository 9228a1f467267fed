import Foundation
import TensorCore
import NN
import Training
import Pruning
import Schema

/// Compaction during training (`compact_during_training`): the units of the last selection
/// leave the network, which trains on smaller.
extension StructuredPruner {
    /// Removes the units the last selection dropped (`previous`) from the model, the optimizer
    /// state and the data-parallel workers, and records the kept indices.
    func compactNow(step: Int) {
        var keep: [String: [Int]] = [:]
        for (i, layer) in layers.enumerated() { keep[layer.name] = previous[i].indices.filter { previous[i][$0] } }
        removeUnits(keep)
        compactedAt = step
    }

    /// Rebuilds the model without the units `keep` does not list (kept indices per layer name)
    /// and points the pruner's layers at the new ones.
    func removeUnits(_ keep: [String: [Int]]) {
        let model = session.model
        // The pruner was built on a model it checked: Sequential layers, each listed layer Compactable.
        guard let maps = try? Compaction.removeUnits(from: model, keeping: keep) else {
            preconditionFailure("structured pruning checked its layers at the start")
        }
        session.trainer.modelLayersDidChange(keeping: maps)
        let all = StructuredPruning.unitLayers(model)
        layers = layers.map { old in all.first { $0.name == old.name }! }
        keptUnits = keep
    }

    /// Throws when units cannot be removed from `model` during training (a block, or a weighted
    /// layer that is not `Compactable`), or the run records per-weight state of the full layers.
    static func checkCompactable(_ model: Sequential, config: ExperimentConfig, path: String = "pruning.structured.compact_during_training")
        throws
    {
        // the trajectory recorder and quantization-aware training hold per-weight state of the full layers
        if config.recording.enabled || config.training.quantize.enabled {
            throw ConfigError(
                path: path, "cannot be combined with \(config.recording.enabled ? "recording.enabled" : "training.quantize"); turn one off")
        }
        for layer in model.layers where layer is Block || (layer.prunableWeight != nil && !(layer is any Compactable)) {
            throw ConfigError(
                path: path, "units cannot be removed from \(layer.name) (\(type(of: layer))) during training; use a model without blocks")
        }
    }

    func saveCompaction(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/compacted_at", compactedAt ?? -1)
        archive.set("\(prefix)/stable_selections", stableSelections)
        for (i, layer) in layers.enumerated() where compactedAt != nil {
            archive.set("\(prefix)/kept_units/\(i)", (keptUnits[layer.name] ?? []).map(Int64.init))
        }
    }

    func restoreCompactionCounters(from archive: StateArchive, prefix: String) throws {
        guard archive.has("\(prefix)/compacted_at") else { return }
        let c = try archive.int("\(prefix)/compacted_at")
        compactedAt = c < 0 ? nil : c
        stableSelections = try archive.int("\(prefix)/stable_selections")
    }

    /// Before the weights are restored: a checkpoint taken after the compaction rebuilds the
    /// small network from its kept unit indices (the values come with the weights after).
    func restoreArchitecture(from archive: StateArchive, prefix: String) throws {
        guard archive.has("\(prefix)/compacted_at"), try archive.int("\(prefix)/compacted_at") >= 0, compactedAt == nil else { return }
        var keep: [String: [Int]] = [:]
        for (i, layer) in layers.enumerated() {
            let kept = try archive.ints("\(prefix)/kept_units/\(i)").map(Int.init)
            guard !kept.isEmpty, kept.allSatisfy({ $0 >= 0 && $0 < layer.units }), kept == kept.sorted() else {
                throw PruningError(
                    "checkpoint key \(prefix)/kept_units/\(i): the kept units of \(layer.name) do not fit its \(layer.units) units")
            }
            keep[layer.name] = kept
        }
        removeUnits(keep)
        compactedAt = try archive.int("\(prefix)/compacted_at")
    }
}

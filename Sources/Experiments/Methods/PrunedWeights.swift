import Schema
import NN

/// The weights the unstructured methods prune: every prunable weight minus `pruning.exclude`
/// (and the last layer with `exclude_output`). Names in `exclude`, `layer_sparsity` and
/// `extraNames` must be layers of the model.
enum PrunedWeights {
    static func select(_ pruning: PruningConfig, model: Sequential, extraNames: [(path: String, names: [String])] = []) throws
        -> [Parameter]
    {
        let layerNames = model.weightedLayers.map(\.name)
        let checks = [("pruning.exclude", pruning.exclude), ("pruning.layer_sparsity", Array(pruning.layerSparsity.keys))] + extraNames
        for (path, names) in checks {
            for name in names.sorted() where !layerNames.contains(name) {
                throw ConfigError(path: path, "layer \"\(name)\" does not exist; layers: \(layerNames.joined(separator: ", "))")
            }
        }
        var excluded = Set(pruning.exclude)
        if pruning.excludeOutput, let last = layerNames.last { excluded.insert(last) }
        let params = model.weightedLayers.filter { !excluded.contains($0.name) }.map(\.weight)
        guard !params.isEmpty else { throw ConfigError(path: "pruning.exclude", "excludes every prunable layer") }
        return params
    }
}

import Foundation
import TensorCore
import NN
import Training
import Pruning

/// Test accuracy against sparsity without retraining (`prune-curve.csv`).
///
/// For every sparsity of the grid, from the model as it stands: `scope` `layer` prunes every
/// listed layer to that sparsity by magnitude; `global` prunes the pooled weights of all listed
/// layers to it; `only` (with `per_layer`) prunes one layer alone, the others untouched — the
/// layer sensitivity of Han et al. 2015, figure 6. Weights and masks are restored after each
/// point, so the model leaves as it came.
public enum PruneCurve {
    public static func compute(
        model: Sequential, parameters: [Parameter], grid: [Double], perLayer: Bool,
        testImages: Tensor, testLabels: [Int], workers: Int = 1
    ) -> CSVTable {
        var table = CSVTable(columns: ["scope", "layer", "sparsity", "achieved_sparsity", "test_accuracy", "test_loss"])
        let saved = parameters.map { ($0.value, $0.mask) }
        func restore() {
            for (p, s) in zip(parameters, saved) {
                p.value = s.0
                p.setMask(s.1)
            }
        }
        var runs: [(scope: PruningScope, label: String, params: [Parameter])] = [
            (.layer, "all", parameters), (.global, "all", parameters),
        ]
        if perLayer {
            for p in parameters { runs.append((.layer, p.layerName, [p])) }
        }
        for run in runs {
            for s in grid {
                var rules: [String: ThresholdRule] = [:]
                for p in run.params { rules[p.name] = .sparsity(s) }
                let masks = MagnitudePruner(rules: rules, scope: run.scope)
                    .masks(for: run.params, scores: run.params.map(MagnitudeScore.scores))
                for p in run.params { if let m = masks[p.name] { p.setMask(m) } }
                let e = Evaluation.run(model, images: testImages, labels: testLabels, workers: workers)
                let scopeName = run.label == "all" ? run.scope.rawValue : "only"
                table.append([
                    .string(scopeName), .string(run.label), .double(s),
                    .double(Parameter.sparsity(run.params)), .double(e.accuracy), .double(e.loss),
                ])
                restore()
            }
        }
        return table
    }
}

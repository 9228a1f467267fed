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
/// layer sensitivity of Han et al. 2015, figure 6. With `recalibrationImages` (a model with
/// batch norm), each `layer` and `global` point is evaluated a second time after re-estimating
/// the batch norms' running statistics on those images (rows `layer+bn`, `global+bn`): the
/// pruned layers' outputs no longer have the statistics the batch norms were trained with, and
/// this separates that shift from the lost weights. Weights, masks and statistics are restored
/// after each point, so the model leaves as it came.
public enum PruneCurve {
    /// `progress` hears after every point: points done, points in all, the series (`layer-wise`,
    /// `global`, `only fc1`) and whether that point finished its series.
    public static func compute(
        model: Sequential, parameters: [Parameter], grid: [Double], perLayer: Bool,
        testImages: Tensor, testLabels: [Int], workers: Int = 1, recalibrationImages: Tensor? = nil,
        progress: (_ done: Int, _ total: Int, _ series: String, _ seriesFinished: Bool) -> Void = { _, _, _, _ in }
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
        var done = 0
        for run in runs {
            let series = run.label == "all" ? "\(run.scope == .layer ? "layer-wise" : "global")" : "only \(run.label)"
            for (k, s) in grid.enumerated() {
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
                if let images = recalibrationImages, run.label == "all" {
                    let r = recalibrated(model, images: images) {
                        Evaluation.run(model, images: testImages, labels: testLabels, workers: workers)
                    }
                    table.append([
                        .string(scopeName + "+bn"), .string(run.label), .double(s),
                        .double(Parameter.sparsity(run.params)), .double(r.accuracy), .double(r.loss),
                    ])
                }
                restore()
                done += 1
                progress(done, runs.count * grid.count, series, k == grid.count - 1)
            }
        }
        return table
    }

    /// `body` run after re-estimating the batch norms on `images`; their statistics are put
    /// back afterwards.
    static func recalibrated<R>(_ model: Sequential, images: Tensor, _ body: () -> R) -> R {
        let norms = model.leafLayers.compactMap { $0 as? BatchNorm }
        let saved = norms.map { ($0.runningMean, $0.runningVar) }
        defer {
            for (bn, s) in zip(norms, saved) {
                bn.runningMean = s.0
                bn.runningVar = s.1
            }
        }
        model.recalibrateBatchNorms(images: images)
        return body()
    }
}

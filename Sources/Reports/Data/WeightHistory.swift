import Charts
import Experiments
import Foundation
import Sweeps

/// One sampled weight's recorded history (`trajectories.csv`) and its fate.
struct WeightHistory {
    let layer: String
    let index: Int
    var steps: [Double] = []
    var values: [Double] = []
    var masked: [Bool] = []

    /// The first record at which the weight is masked (pruned), or nil when it is kept to the end.
    var prunedRecord: Int? { masked.firstIndex(of: true) }

    /// Every sampled weight of `table`, by layer in file order, each with its records by step.
    static func all(_ table: ReportTable) throws -> [WeightHistory] {
        let steps = try table.numbers("step"), layers = try table.strings("layer"), index = try table.numbers("index")
        let values = try table.numbers("value"), masked = try table.numbers("masked")
        var order: [String] = [], byKey: [String: WeightHistory] = [:]
        for i in steps.indices {
            let key = "\(layers[i])#\(Int(index[i]))"
            if byKey[key] == nil {
                order.append(key)
                byKey[key] = WeightHistory(layer: layers[i], index: Int(index[i]))
            }
            byKey[key]!.steps.append(steps[i])
            byKey[key]!.values.append(values[i])
            byKey[key]!.masked.append(masked[i] != 0)
        }
        return order.map { byKey[$0]! }
    }

    /// R² of the least-squares line through (step, value) over records `range`, and the
    /// straightness |v_last − v_first| / Σ|v_{k+1} − v_k| (1 for a straight monotone path).
    /// Nil with fewer than 3 records; R² is 0 and straightness 1 for a weight that did not move.
    func shape(_ range: Range<Int>) -> (r2: Double, straightness: Double)? {
        guard range.count >= 3, range.lowerBound >= 0, range.upperBound <= values.count else { return nil }
        let x = Array(steps[range]), y = Array(values[range])
        let mx = Statistics.mean(x), my = Statistics.mean(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0, path = 0.0
        for k in x.indices {
            sxy += (x[k] - mx) * (y[k] - my)
            sxx += (x[k] - mx) * (x[k] - mx)
            syy += (y[k] - my) * (y[k] - my)
            if k > 0 { path += abs(y[k] - y[k - 1]) }
        }
        let r2 = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0
        let straight = path > 0 ? abs(y[y.count - 1] - y[0]) / path : 1
        return (r2, straight)
    }
}

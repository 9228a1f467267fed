/// A published result drawn on a sweep's accuracy-against-sparsity figure when the sweep trains
/// the same model on the same data (the reference rows from the literature).
///
/// These are the papers' own numbers, not PruneLab runs: each names its source, and the report
/// draws them as crosses labelled as published. Add one with one line in `all`.
struct LiteratureReference: Sendable {
    /// A model preset name (`ModelRegistry`), as in summary.csv's `model` column.
    var model: String
    /// A data set name, as in summary.csv's `dataset` column.
    var dataset: String
    var source: String
    /// Fraction of the weights removed.
    var sparsity: Double
    /// Top-1 test error, as a fraction.
    var error: Double

    var accuracy: Double { 1 - error }

    static let all: [LiteratureReference] = [
        // Han et al. 2015, Table 1: 267K -> 22K weights (12x), 1.59% error
        .init(model: "lenet-300-100", dataset: "mnist", source: "Han et al. 2015", sparsity: 0.92, error: 0.0159),
        // Guo et al. 2016 (DNS), Table 1: 267K -> 4.8K weights (56x), 1.99% error
        .init(model: "lenet-300-100", dataset: "mnist", source: "DNS (Guo et al. 2016)", sparsity: 0.982, error: 0.0199),
        // Lee et al. 2019 (SNIP), Table 2: 98% sparsity, 2.4% error
        .init(model: "lenet-300-100", dataset: "mnist", source: "SNIP (Lee et al. 2019)", sparsity: 0.98, error: 0.024),
        // Han et al. 2015, Table 1: LeNet-5 (Caffe) 431K -> 36K weights (12x), 0.77% error
        .init(model: "lenet-5", dataset: "mnist", source: "Han et al. 2015", sparsity: 0.92, error: 0.0077),
        // Guo et al. 2016 (DNS), Table 1: LeNet-5 431K -> 4.0K weights (108x), 0.91% error
        .init(model: "lenet-5", dataset: "mnist", source: "DNS (Guo et al. 2016)", sparsity: 0.991, error: 0.0091),
    ]

    /// The references for a model trained on a data set.
    static func matching(model: String, dataset: String) -> [LiteratureReference] {
        all.filter { $0.model == model && $0.dataset == dataset }
    }
}

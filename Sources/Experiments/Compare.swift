import Foundation
import TensorCore
import Pruning

/// Runs several pruning methods from one base config, with the same data order and initial
/// weights per seed, and writes `comparison.csv`, `timing.csv` and `comparison.md`.
///
/// Methods: `dense` (no pruning), `han` (train, then prune ▶ retrain rounds), `gmp` (gradual
/// magnitude pruning during training, Zhu & Gupta's cubic schedule) and `linear`, `stalled`,
/// `movement` (the dynamic criteria on the same schedule), and for conv nets `l1` and `fpgm`
/// (structured filter pruning, then compaction, with the config's `pruning.structured` keys). Each run is a full run folder under
/// `OUT/<method>-seed<k>/`. Initial weights and batches depend only on the seed (streams
/// `init` and `data`), never on the method. `comparison.csv` holds no timing, so the same
/// config and seeds give the same file; wall and inference times go to `timing.csv`.
public enum Compare {
    public static let allMethods = ["dense", "han", "gmp", "linear", "stalled", "movement", "l1", "fpgm"]
    static let structuredMethods = ["l1", "fpgm"]
    static let timingColumns = ["wall_seconds", "infer_ms_b1", "infer_ms_b128", "compact_infer_ms_b1", "compact_infer_ms_b128"]

    /// Every unstructured method, plus `l1` and `fpgm` when the model has conv layers or the
    /// config lists layers for structured pruning.
    public static func defaultMethods(for base: ExperimentConfig) throws -> [String] {
        let specs = try ModelRegistry.layerSpecs(base.model)
        let structured = specs.contains { $0.type == .conv } || base.pruning.structured.layers != nil
        return allMethods.filter { structured || !structuredMethods.contains($0) }
    }

    static let numericColumns = [
        "test_accuracy", "test_loss", "train_accuracy", "sparsity", "pruned_sparsity", "nonzero_weights",
        "train_flops", "dense_train_flops", "sparse_bytes", "steps", "compact_weights", "compact_test_accuracy",
    ]

    /// The base config turned into `method`'s config for `seed`.
    public static func config(_ base: ExperimentConfig, method: String, seed: UInt64) throws -> ExperimentConfig {
        var c = base
        c.seed = seed
        c.name = "\(base.name)-\(method)"
        c.pruning.curve.enabled = false
        switch method {
        case "dense": c.pruning.method = .none
        case "han": c.pruning.method = .han
        case "gmp": c.pruning.method = .dynamic; c.pruning.criterion = .magnitude
        case "linear", "stalled", "movement":
            c.pruning.method = .dynamic
            c.pruning.criterion = PruningConfig.Criterion(rawValue: method)!
        case "l1", "fpgm":
            c.pruning.method = .structured
            c.pruning.structured.criterion = StructuredCriterion(rawValue: method)!
        default:
            throw ConfigError(path: "--methods", "unknown method \"\(method)\"; known: \(allMethods.joined(separator: ", "))")
        }
        return c
    }

    @discardableResult
    public static func run(base: ExperimentConfig, seeds: [UInt64], methods: [String], outDir: String,
                           force: Bool, log: (String) -> Void = { _ in }) throws -> [ComparisonRow] {
        guard !seeds.isEmpty else { throw ConfigError(path: "--seeds", "give at least one seed") }
        for m in methods where !allMethods.contains(m) {
            throw ConfigError(path: "--methods", "unknown method \"\(m)\"; known: \(allMethods.joined(separator: ", "))")
        }
        let dir = URL(fileURLWithPath: outDir, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rows: [ComparisonRow] = []
        var wall: [ComparisonRow] = []
        for seed in seeds {
            var hanMasks: [String: Tensor]?
            var outcomes: [(String, RunOutcome)] = []
            // Han first, so every other method's mask can be compared with it.
            for method in methods.sorted(by: { ($0 == "han" ? 0 : 1) < ($1 == "han" ? 0 : 1) }) {
                let c = try config(base, method: method, seed: seed)
                let sub = dir.appendingPathComponent("\(method)-seed\(seed)").path
                log("\(method) seed \(seed) ▶ \(sub)")
                let outcome = try Runner.run(c, options: RunOptions(outDir: sub, force: force, progress: false,
                                                                    command: "prunelab compare (\(method), seed \(seed))"))
                if method == "han" { hanMasks = outcome.masks }
                outcomes.append((method, outcome))
            }
            for method in methods {
                guard let outcome = outcomes.first(where: { $0.0 == method })?.1 else { continue }
                var values: [String: Double] = [:]
                for k in numericColumns {
                    if case .some(let v) = outcome.summary[k] { values[k] = Double("\(v)") }
                }
                if let h = hanMasks, let j = Statistics.jaccard(outcome.masks, h) { values["jaccard_vs_han"] = j }
                rows.append(ComparisonRow(method: method, seed: Int(seed), values: values))
                var times: [String: Double] = [:]
                for k in timingColumns {
                    if case .some(let v) = outcome.summary[k], let d = Double("\(v)") { times[k] = d }
                }
                wall.append(ComparisonRow(method: method, seed: Int(seed), values: times))
            }
        }
        let columns = numericColumns + ["jaccard_vs_han"]
        try ComparisonReport.csv(rows, columns: columns).write(to: dir.appendingPathComponent("comparison.csv"))
        try ComparisonReport.csv(wall, columns: timingColumns).write(to: dir.appendingPathComponent("timing.csv"))
        let merged = zip(rows, wall).map { r, w in
            ComparisonRow(method: r.method, seed: r.seed, values: r.values.merging(w.values) { a, _ in a })
        }
        let md = ComparisonReport.markdown(merged, metrics: ["test_accuracy", "sparsity", "train_flops", "wall_seconds", "jaccard_vs_han",
                                                                    "compact_weights", "infer_ms_b128", "compact_infer_ms_b128"],
                                           baseline: "han", title: "\(base.name): \(methods.joined(separator: ", ")), seeds \(seeds.map(String.init).joined(separator: ", "))")
        try AtomicFile.write(Data(md.utf8), to: dir.appendingPathComponent("comparison.md"))
        return rows
    }
}

import Experiments
import Foundation
import Schema
import TensorCore

/// Runs several arms from one base config, with the same data order and initial weights per
/// seed, and writes `comparison.csv`, `timing.csv` and `comparison.md`.
///
/// An arm is a name from the method registry's vocabulary (`prunelab list arms`): `dense`,
/// `han`, every dynamic criterion on the cubic schedule (`magnitude`, `linear`, ...), the same
/// with another schedule (`linear/adaptive`, `snip/init`), and the unit criteria of structured
/// pruning (`l1`, `fpgm`). Each arm is the base config with that arm's overrides, so the base
/// holds every method's section. Each run is a full run folder under `OUT/<arm>-seed<k>/`
/// (`/` becomes `-`). Initial weights and batches depend only on the seed (streams `init` and
/// `data`), never on the arm. `comparison.csv` holds no timing, so the same config and seeds
/// give the same file; wall and inference times go to `timing.csv`.
///
/// Cost ratios are stated against the compare's own arms, per seed: `train_flops_vs_dense` and
/// `train_flops_vs_han` (comparison.csv), `wall_seconds_vs_dense` and `wall_seconds_vs_han`
/// (timing.csv) divide an arm's value by the `dense` or `han` arm's of the same seed (empty
/// without that arm). `dense_train_flops` is the arm's own pipeline with nothing pruned (Han's
/// includes its retraining), never the dense run: it is not a "times dense" figure.
public enum Compare {
    static let numericColumns = [
        "test_accuracy", "test_loss", "train_accuracy", "sparsity", "pruned_sparsity", "nonzero_weights",
        "train_flops", "dense_train_flops", "sparse_bytes", "steps", "compact_weights", "compact_test_accuracy",
    ]
    /// Columns that are counts, written as integers.
    static let countColumns: Set<String> = [
        "nonzero_weights", "train_flops", "dense_train_flops", "sparse_bytes", "steps", "compact_weights",
    ]
    static let timingColumns = ["wall_seconds", "infer_ms_b1", "infer_ms_b128", "compact_infer_ms_b1", "compact_infer_ms_b128"]
    /// Arms every cost is also stated against, and the costs.
    static let referenceArms = ["dense", "han"]
    static let flopsRatios = referenceArms.map { "train_flops_vs_\($0)" }
    static let secondsRatios = referenceArms.map { "wall_seconds_vs_\($0)" }

    /// Every arm the registries offer for `base`, in registry order.
    public static func arms(for base: ExperimentConfig) throws -> [MethodArm] {
        try MethodRegistry.arms(for: base)
    }

    /// The arms run when no `--methods` are given.
    public static func defaultArms(for base: ExperimentConfig) throws -> [String] {
        try arms(for: base).filter(\.isDefault).map(\.name)
    }

    /// The base document turned into `arm`'s config for `seed`.
    public static func config(_ base: ConfigDocument, arm: MethodArm, seed: UInt64, name: String) throws -> ExperimentConfig {
        let doc = try base.applying(arm.overrides + ["seed=\(seed)", "name=\(name)-\(arm.name)", "pruning.han.curve.enabled=false"])
        return try ConfigLoader.decode(doc)
    }

    /// The arm the Δ columns of `comparison.md` are taken against: `requested` when given (it must
    /// be one of `methods`), else `han` when compared, else the first arm.
    public static func baseline(_ requested: String?, methods: [String]) throws -> String {
        guard let requested else { return methods.contains("han") ? "han" : methods.first ?? "han" }
        guard methods.contains(requested) else {
            throw RunError("--baseline: \"\(requested)\" is not a compared arm; compared: \(methods.joined(separator: ", "))")
        }
        return requested
    }

    /// Resolves arm names against the registries; an unknown name lists the known ones.
    static func resolve(_ names: [String], base: ExperimentConfig) throws -> [MethodArm] {
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw ConfigError(path: "--methods", "give at least one method, e.g. --methods han,linear")
        }
        let all = try arms(for: base)
        return try names.map { n in
            guard let a = all.first(where: { $0.name == n }) else {
                throw ConfigError(path: "--methods", "unknown method \"\(n)\"; known: \(all.map(\.name).joined(separator: ", "))")
            }
            return a
        }
    }

    /// The comparison as a sweep: axes `arm` (the methods, in order) and `seed`; Han's prune
    /// curve off. Run folders are `<arm>-seed<k>` (`/` becomes `-`).
    public static func preset(_ doc: ConfigDocument, methods: [String], seeds: [UInt64], file: String = "compare") throws -> SweepSpec {
        let base = try doc.applying(["pruning.han.curve.enabled=false"])
        let armTexts = try methods.map { try SweepSpec.jsonText($0, key: "--methods") }
        return SweepSpec(base: base, file: file, axes: [("arm", armTexts), ("seed", seeds.map(String.init))])
    }

    /// Runs the comparison (a sweep preset, see `preset`): completed arms are read back, not
    /// re-run; unfinished ones are resumed; `jobs > 1` runs arms as parallel processes of
    /// `executable`. Then writes `comparison.csv`, `timing.csv` and `comparison.md`.
    @discardableResult
    public static func run(
        base doc: ConfigDocument, seeds: [UInt64], methods: [String], outDir: String,
        force: Bool, jobs: Int = 1, executable: URL? = nil, progress: Bool = false, baseline: String? = nil,
        command: String? = nil, overrides: [String] = [],
        log: (String) -> Void = { _ in }
    ) throws -> [ComparisonRow] {
        guard !seeds.isEmpty else { throw ConfigError(path: "--seeds", "give at least one seed") }
        let base = try ConfigLoader.decode(doc)
        let arms = try resolve(methods, base: base)
        let baselineArm = try Self.baseline(baseline, methods: methods)
        var options = SweepOptions(outDir: outDir, jobs: jobs, force: force, executable: executable)
        options.progress = progress
        options.command = command
        options.overrides = overrides
        let plan = try Sweep.prepare(
            try preset(doc, methods: methods, seeds: seeds), options: options,
            threads: Sweep.threads(jobs: jobs, cores: options.cores))
        let report = try Sweep.run(plan, options: options, log: log)
        if let f = report.failed.first { throw RunError("\(f.name): \(f.error)") }
        var rows: [ComparisonRow] = [], wall: [ComparisonRow] = []
        for seed in seeds {
            var outcomes: [String: ArmResult] = [:]
            for arm in arms {
                let sub = options.dir.appendingPathComponent("\(arm.name.replacingOccurrences(of: "/", with: "-"))-seed\(seed)")
                outcomes[arm.name] = try ArmResult(completedRunIn: sub)
            }
            let hanMasks = outcomes["han"]?.masks
            for arm in arms {
                guard let outcome = outcomes[arm.name] else { continue }
                var values: [String: Double] = [:]
                for k in numericColumns { values[k] = outcome.numbers[k] }
                if let h = hanMasks, let j = Statistics.jaccard(outcome.masks, h) { values["jaccard_vs_han"] = j }
                var times: [String: Double] = [:]
                for k in timingColumns { times[k] = outcome.numbers[k] }
                for ref in referenceArms {
                    guard let r = outcomes[ref]?.numbers else { continue }
                    values["train_flops_vs_\(ref)"] = ratio(outcome.numbers["train_flops"], r["train_flops"])
                    times["wall_seconds_vs_\(ref)"] = ratio(outcome.numbers["wall_seconds"], r["wall_seconds"])
                }
                rows.append(ComparisonRow(method: arm.name, seed: Int(seed), values: values))
                wall.append(ComparisonRow(method: arm.name, seed: Int(seed), values: times))
            }
        }
        try writeReports(
            rows: rows, wall: wall, dir: options.dir, baseline: baselineArm,
            title: "\(base.name): \(methods.joined(separator: ", ")), seeds \(seeds.map(String.init).joined(separator: ", "))")
        return rows
    }

    /// One arm's summary numbers and final masks.
    struct ArmResult {
        var numbers: [String: Double]
        var masks: [String: Tensor]
    }

    /// `a / b`, nil when either is missing or `b` is not positive.
    static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b > 0 else { return nil }
        return a / b
    }

    static func writeReports(
        rows: [ComparisonRow], wall: [ComparisonRow], dir: URL, baseline: String = "han", title: String
    ) throws {
        let folder = try OutputFolder(dir)
        defer { folder.release() }
        let files = try ["comparison.csv", "timing.csv", "comparison.md"].map { try folder.claim($0) }
        try ComparisonReport.csv(rows, columns: numericColumns + ["jaccard_vs_han"] + flopsRatios, integers: countColumns)
            .write(to: files[0])
        try ComparisonReport.csv(wall, columns: timingColumns + secondsRatios).write(to: files[1])
        let merged = zip(rows, wall).map { r, w in
            ComparisonRow(method: r.method, seed: r.seed, values: r.values.merging(w.values) { a, _ in a })
        }
        let md = ComparisonReport.markdown(
            merged,
            metrics: [
                "test_accuracy", "sparsity", "train_flops", "train_flops_vs_dense", "train_flops_vs_han",
                "wall_seconds", "wall_seconds_vs_dense", "wall_seconds_vs_han", "jaccard_vs_han",
                "compact_weights", "infer_ms_b128", "compact_infer_ms_b128",
            ],
            baseline: baseline, title: title)
        try AtomicFile.write(Data(md.utf8), to: files[2])
    }
}

extension Compare.ArmResult {
    /// A completed run's `summary.csv` numbers and `model.h5` masks.
    init(completedRunIn folder: URL) throws {
        let numbers = try SummaryRow.numbers(in: folder)
        self.init(numbers: numbers, masks: try ModelFiles.readMasks(path: folder.appendingPathComponent("model.h5").path))
    }
}

/// Counts a comparison's runs for its log: `[k/N]` before each, and after each its headline
/// numbers and the ETA of the rest (mean seconds per run so far, finished runs read back included).
struct RunCounter {
    let total: Int
    var done = 0
    let start = Date()

    mutating func next() -> String { "[\(done + 1)/\(total)]" }

    mutating func finished(_ name: String, _ n: [String: Double]) -> String {
        done += 1
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(done) * Double(total - done)
        let value = { (k: String, f: String) in n[k].map { String(format: f, $0) } ?? "-" }
        return "[\(done)/\(total)] \(name) done: test \(value("test_accuracy", "%.4f"))  sparsity \(value("sparsity", "%.4f"))  "
            + "train \(n["train_flops"].map { String(format: "%.1f", $0 / 1e9) } ?? "-") GFLOP  \(value("wall_seconds", "%.2f")) s  "
            + "ETA \(ProgressLine.clock(eta))"
    }
}

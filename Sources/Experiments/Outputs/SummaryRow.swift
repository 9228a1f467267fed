import Foundation

/// One row of `summary.csv`, typed. Methods add their own columns to `extra`.
public struct SummaryRow: Sendable {
    public var name = "", dataset = "", model = ""
    public var label = RunLabel(method: "")
    public var seed: UInt64 = 0
    public var epochs = 0.0
    public var steps = 0
    public var trainAccuracy = 0.0, testAccuracy = 0.0, testLoss = 0.0
    public var totalWeights = 0, nonzeroWeights = 0
    public var sparsity = 0.0
    public var trainFLOPs = 0, denseTrainFLOPs = 0
    /// Seconds of the run without the analysis (training, evaluations, checkpoints, outputs).
    public var wallSeconds = 0.0
    /// `wallSeconds` without the evaluations.
    public var trainSeconds = 0.0
    /// Seconds spent evaluating (test set during training, Han's rounds, the final evaluations).
    public var evalSeconds = 0.0
    /// Seconds spent in analysis outside the method's cost (Han's accuracy-vs-sparsity curve).
    public var analysisSeconds = 0.0
    public var prunedSparsity = 0.0
    public var denseBytes = 0, sparseBytes = 0
    public var inferMsB1 = 0.0, inferMsB128 = 0.0
    /// Columns a method adds, in order (e.g. the compaction columns of `structured`).
    public var extra: [SummaryColumn] = []

    public init() {}

    /// The numeric columns of the run folder's one-row `summary.csv`, by name.
    public static func numbers(in folder: URL) throws -> [String: Double] {
        let rows = try CSVReader.read(folder.appendingPathComponent("summary.csv"))
        guard rows.count == 2, rows[0].count == rows[1].count else {
            throw RunError("\(folder.path)/summary.csv: expected a header and one row")
        }
        var numbers: [String: Double] = [:]
        for (k, v) in zip(rows[0], rows[1]) { numbers[k] = Double(v) }
        return numbers
    }

    /// Columns that measure time on this machine; they differ between two runs of the same
    /// config and seed, everything else must not.
    public static let timingColumns: Set<String> = [
        "wall_seconds", "train_seconds", "eval_seconds", "analysis_seconds",
        "infer_ms_b1", "infer_ms_b128", "compact_infer_ms_b1", "compact_infer_ms_b128",
        "checkpoints", "checkpoint_seconds", "tensorboard_seconds",
    ]

    /// Every column in order, with its value.
    public var columns: [SummaryColumn] {
        let fixed: [(String, CSVValue)] = [
            ("name", .string(name)), ("dataset", .string(dataset)), ("model", .string(model)),
            ("method", .string(label.method)), ("criterion", .string(label.criterion)), ("schedule", .string(label.schedule)),
            ("label", .string(label.name)), ("seed", .string(String(seed))), ("epochs", .double(epochs)), ("steps", .int(steps)),
            ("train_accuracy", .double(trainAccuracy)), ("test_accuracy", .double(testAccuracy)), ("test_loss", .double(testLoss)),
            ("total_weights", .int(totalWeights)), ("nonzero_weights", .int(nonzeroWeights)), ("sparsity", .double(sparsity)),
            ("train_flops", .int(trainFLOPs)), ("dense_train_flops", .int(denseTrainFLOPs)), ("wall_seconds", .double(wallSeconds)),
            ("train_seconds", .double(trainSeconds)), ("eval_seconds", .double(evalSeconds)),
            ("analysis_seconds", .double(analysisSeconds)),
            ("pruned_sparsity", .double(prunedSparsity)), ("dense_bytes", .int(denseBytes)), ("sparse_bytes", .int(sparseBytes)),
            ("infer_ms_b1", .double(inferMsB1)), ("infer_ms_b128", .double(inferMsB128)),
        ]
        return fixed.map { SummaryColumn($0.0, $0.1) } + extra
    }

    /// The numeric value of `column`, nil when the row has no such column or it is text.
    public func number(_ column: String) -> Double? {
        guard let c = columns.first(where: { $0.name == column }) else { return nil }
        switch c.value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string: return nil
        }
    }

    /// The headline the console prints after a run, rounded to what the numbers mean:
    /// accuracy and sparsity to 4 decimals, seconds to 2.
    public var consoleLine: String {
        String(format: "test_accuracy %.4f  sparsity %.4f  wall_seconds %.2f", testAccuracy, sparsity, wallSeconds)
    }

    public var table: CSVTable {
        let cs = columns
        var t = CSVTable(columns: cs.map(\.name))
        t.append(cs.map(\.value))
        return t
    }
}

/// One named cell of `summary.csv`.
public struct SummaryColumn: Sendable {
    public var name: String
    public var value: CSVValue
    public init(_ name: String, _ value: CSVValue) {
        self.name = name
        self.value = value
    }
}

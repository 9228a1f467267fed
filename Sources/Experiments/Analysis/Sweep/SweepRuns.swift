import Foundation

/// The completed runs of a sweep folder, each with its point's axis values and its summary.
public struct SweepRuns: Sendable {
    /// One completed point.
    public struct Run: Sendable {
        public var point: SweepPoint
        /// `summary.csv` as (column, text) in file order.
        public var summary: [(name: String, text: String)]

        public func text(_ column: String) -> String? { summary.first { $0.name == column }?.text }
        public func number(_ column: String) -> Double? { text(column).flatMap(Double.init) }
        /// The summary's `label` (`han`, `linear`, `linear/adaptive`, ...).
        public var label: String { text("label") ?? "" }
        public var seed: String { text("seed") ?? "" }
        public func axis(_ key: String) -> String { point.values.first { $0.key == key }?.value ?? "" }
    }

    public var axes: [String]
    public var runs: [Run]
    /// Points of the plan without a completed run (not aggregated).
    public var unfinished: [String]

    /// Reads the plan and every completed point's `summary.csv` from `dir`.
    public static func read(dir: String) throws -> SweepRuns {
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        let plan = try SweepPlan.read(dir: url)
        var runs: [Run] = [], unfinished: [String] = []
        for p in plan.points {
            let folder = url.appendingPathComponent(p.name, isDirectory: true)
            guard (try? RunInfo.read(from: folder.appendingPathComponent("run.json")))?.status == .completed else {
                unfinished.append(p.name)
                continue
            }
            let rows = try CSVReader.read(folder.appendingPathComponent("summary.csv"))
            guard rows.count == 2, rows[0].count == rows[1].count else {
                throw RunError("\(folder.path)/summary.csv: expected a header and one row")
            }
            runs.append(Run(point: p, summary: Array(zip(rows[0], rows[1])).map { (name: $0.0, text: $0.1) }))
        }
        return SweepRuns(axes: plan.axes, runs: runs, unfinished: unfinished)
    }

    /// Summary columns in first-seen order over all runs.
    public var summaryColumns: [String] {
        var out: [String] = []
        for r in runs { for c in r.summary where !out.contains(c.name) { out.append(c.name) } }
        return out
    }

    /// Axis keys that get their own column: those the summary does not already echo (`seed`, `name`).
    public var axisColumns: [String] { axes.filter { !summaryColumns.contains($0) } }

    /// `runs.csv`: one row per completed run, `point`, the axis values, then every summary column.
    public var table: CSVTable {
        let columns = summaryColumns, axisCols = axisColumns
        var t = CSVTable(columns: ["point"] + axisCols + columns)
        for r in runs {
            t.append([.string(r.point.name)] + axisCols.map { .string(r.axis($0)) } + columns.map { .string(r.text($0) ?? "") })
        }
        return t
    }
}

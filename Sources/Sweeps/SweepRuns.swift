import Experiments
import Foundation

/// The completed runs of a sweep folder, each with its point's axis values and its summary.
public struct SweepRuns: Sendable {
    /// One completed point.
    public struct Run: Sendable {
        /// The point's run folder name.
        public var name: String
        /// The point's axis values in sweep order.
        public var values: [SweepPoint.AxisValue]
        /// `summary.csv` as (column, text) in file order.
        public var summary: [(name: String, text: String)]

        public func text(_ column: String) -> String? { summary.first { $0.name == column }?.text }
        public func number(_ column: String) -> Double? { text(column).flatMap(Double.init) }
        /// The summary's `label` (`han`, `linear`, `linear/adaptive`, ...).
        public var label: String { text("label") ?? "" }
        public var seed: String { text("seed") ?? "" }
        public func axis(_ key: String) -> String { values.first { $0.key == key }?.value ?? "" }
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
            runs.append(Run(name: p.name, values: p.values, summary: Array(zip(rows[0], rows[1])).map { (name: $0.0, text: $0.1) }))
        }
        return SweepRuns(axes: plan.axes, runs: runs, unfinished: unfinished)
    }

    /// The name of the table of completed runs a sweep folder holds (`table`).
    public static let tableName = "runs.csv"

    /// Reads the runs of an archived sweep from its `runs.csv` alone (the run folders and plan
    /// left behind, as in a results folder): the columns between `point` and the first summary
    /// column (`name`) are the axes; `seed`, echoed by the summary, groups as in the live sweep.
    public static func read(table url: URL) throws -> SweepRuns {
        let rows = try CSVReader.read(url)
        guard let header = rows.first, header.first == "point", let nameColumn = header.firstIndex(of: "name") else {
            throw RunError("\(url.path): not a sweep's runs table (expected columns point, the axes, then name, ...)")
        }
        let axes = Array(header[1..<nameColumn])
        var runs: [Run] = []
        for (i, row) in rows.dropFirst().enumerated() where row != [""] {
            guard row.count == header.count else {
                throw RunError("\(url.path): line \(i + 2) has \(row.count) fields, the header \(header.count)")
            }
            runs.append(
                Run(
                    name: row[0], values: zip(axes, row[1..<nameColumn]).map { SweepPoint.AxisValue(key: $0, value: $1) },
                    summary: zip(header[nameColumn...], row[nameColumn...]).map { (name: $0, text: $1) }))
        }
        return SweepRuns(axes: axes, runs: runs, unfinished: [])
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
            t.append([.string(r.name)] + axisCols.map { .string(r.axis($0)) } + columns.map { .string(r.text($0) ?? "") })
        }
        return t
    }
}

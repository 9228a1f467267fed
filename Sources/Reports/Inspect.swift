import Charts
import Experiments
import Foundation
import Sweeps

/// Reads a run folder's CSVs back for display (`prunelab inspect`).
public enum Inspect {
    /// Right-aligned text table of CSV rows (first row is the header).
    public static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for r in rows { for (i, f) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], f.count) } }
        return rows.map { r in
            r.enumerated().map { i, f in String(repeating: " ", count: max(0, widths[min(i, widths.count - 1)] - f.count)) + f }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Where the run stands: `run.json`'s status, except that a `running` run whose process is
    /// gone (killed, machine rebooted) is reported as interrupted.
    public static func status(runDir: String) throws -> (status: RunStatus, line: String) {
        let info = try RunInfo.read(from: URL(fileURLWithPath: runDir, isDirectory: true).appendingPathComponent("run.json"))
        switch info.status {
        case .running where !RunFolder(path: runDir).isHeldByLiveProcess():
            return (
                .interrupted,
                "status interrupted (run.json says running, but its process \(info.pid.map(String.init) ?? "") is gone); continue with prunelab run --resume \(runDir)"
            )
        case .running:
            return (.running, "status running (pid \(info.pid.map(String.init) ?? "unknown"))")
        case .interrupted:
            return (
                .interrupted,
                "status interrupted after step \(info.step.map(String.init) ?? "?"); continue with prunelab run --resume \(runDir)"
            )
        case .failed:
            return (.failed, "status failed: \(info.error ?? "")")
        case .completed:
            return (.completed, "status completed")
        }
    }

    /// The run's status, its layer table with a totals row, then the summary's headline numbers;
    /// for a compare or sweep folder, `folderReport`.
    public static func report(runDir: String) throws -> String {
        let dir = URL(fileURLWithPath: runDir, isDirectory: true)
        let isRun = ["run.json", "layers.csv"].contains {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
        }
        if !isRun, FileManager.default.fileExists(atPath: dir.appendingPathComponent(SweepPlan.fileName).path) {
            return try folderReport(dir: runDir)
        }
        // a folder copied without run.json (or from an old version) is shown from its CSVs alone
        let hasInfo = FileManager.default.fileExists(atPath: dir.appendingPathComponent("run.json").path)
        let (status, line) = hasInfo ? try Self.status(runDir: runDir) : (.completed, "status unknown (no run.json)")
        guard status == .completed else { return line }
        var layers = try CSVReader.read(dir.appendingPathComponent("layers.csv"))
        guard layers.count > 1, layers[0].first == "layer" else { throw RunError("\(runDir)/layers.csv: no layer rows") }
        let cols = layers[0]
        func col(_ n: String) -> Int? { cols.firstIndex(of: n) }
        if let w = col("weights"), let nz = col("nonzero"), let df = col("dense_flops"), let sf = col("sparse_flops") {
            let body = layers.dropFirst()
            let sum = { (i: Int) in body.reduce(0) { $0 + (Int($1[i]) ?? 0) } }
            var total = [String](repeating: "", count: cols.count)
            total[0] = "total"
            total[w] = String(sum(w)); total[nz] = String(sum(nz))
            total[df] = String(sum(df)); total[sf] = String(sum(sf))
            if let sp = col("sparsity") { total[sp] = String(format: "%.4f", 1 - Double(sum(nz)) / Double(max(sum(w), 1))) }
            layers.append(total)
        }
        for r in 1..<layers.count {
            if let sp = col("sparsity"), let v = Double(layers[r][sp]) { layers[r][sp] = String(format: "%.4f", v) }
        }
        var out = line + "\n\n" + render(layers)
        if let compact = try? CSVReader.read(dir.appendingPathComponent("layers-compact.csv")), compact.count > 1 {
            out += "\n\ncompacted (model-compact.h5):\n" + render(compact)
        }
        let summary = try readSummary(dir.appendingPathComponent("summary.csv"))
        do {
            let keys = [
                "method", "criterion", "schedule", "test_accuracy", "sparsity", "train_flops", "dense_bytes", "sparse_bytes",
                "wall_seconds",
                "infer_ms_b1", "infer_ms_b128", "compact_test_accuracy", "compact_weights", "compact_bytes",
                "compact_infer_ms_b1", "compact_infer_ms_b128",
            ]
            let pairs = keys.compactMap { k in
                summary[0].firstIndex(of: k).flatMap {
                    $0 < summary[1].count && !summary[1][$0].isEmpty ? "\(k) \(rounded(summary[1][$0], column: k))" : nil
                }
            }
            out += "\n\n" + pairs.joined(separator: "  ")
        }
        return out
    }

    /// A headline value rounded to what it means: accuracy and sparsity to 4 decimals, seconds
    /// to 2, milliseconds to 3; counts and text as written.
    static func rounded(_ text: String, column: String) -> String {
        guard let v = Double(text), v.isFinite else { return text }
        if column.hasPrefix("infer_ms") || column.contains("_infer_ms") { return String(format: "%.3f", v) }
        if column.hasSuffix("seconds") { return String(format: "%.2f", v) }
        if column.hasSuffix("accuracy") || column.hasSuffix("sparsity") { return String(format: "%.4f", v) }
        return text
    }

    /// A compare or sweep folder: its points and their states, then one line per arm (the points
    /// that share every axis value but the seed) with its seeds, how many completed and failed,
    /// and the mean test accuracy, sparsity and wall seconds of the completed ones (short of
    /// their target or not); then each short, diverged or failed point with its reason.
    public static func folderReport(dir: String) throws -> String {
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        let plan = try SweepPlan.read(dir: url)
        let entries = try SweepStatus.read(dir: dir)
        let kind = FileManager.default.fileExists(atPath: url.appendingPathComponent("comparison.csv").path) ? "compare" : "sweep"
        var out = "\(kind) of \(plan.points.count) points (axes \(plan.axes.joined(separator: ", "))): \(SweepStatus.counts(entries))"
        var arms: [String] = [], seeds: [String: [String]] = [:], members: [String: [Int]] = [:]
        for p in plan.points {
            let rest = p.values.filter { $0.key != "seed" }
            let arm = rest.isEmpty ? "all" : rest.map { $0.key == "arm" ? $0.value : "\($0.key)=\($0.value)" }.joined(separator: " ")
            if members[arm] == nil { arms.append(arm) }
            members[arm, default: []].append(p.index)
            if let seed = p.values.first(where: { $0.key == "seed" })?.value { seeds[arm, default: []].append(seed) }
        }
        let metrics = [("test_accuracy", "%.4f"), ("sparsity", "%.4f"), ("wall_seconds", "%.2f")]
        var table = [["arm", "seeds", "completed", "failed"] + metrics.map { "mean_\($0.0)" }]
        for arm in arms {
            let indices = members[arm] ?? []
            let done = indices.filter { entries[$0].state.completed }
            let numbers = done.compactMap { try? SummaryRow.numbers(in: url.appendingPathComponent(plan.points[$0].name)) }
            let means = metrics.map { key, format -> String in
                let values = numbers.compactMap { $0[key] }
                return values.isEmpty ? "-" : String(format: format, values.reduce(0, +) / Double(values.count))
            }
            let failed = indices.filter { [.failed, .diverged].contains(entries[$0].state) }.count
            table.append([arm, seeds[arm]?.joined(separator: ",") ?? "-", "\(done.count)/\(indices.count)", "\(failed)"] + means)
        }
        out += "\n\n" + render(table)
        for e in entries where e.state.needsAttention { out += "\n\(e.state.rawValue) \(e.point): \(e.detail)" }
        return out
    }

    /// summary.csv as header and one row; a missing, empty or cut-short file is an error naming it.
    static func readSummary(_ url: URL) throws -> [[String]] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(url.path): no such file (the run did not finish; see run.json)")
        }
        let rows = try CSVReader.read(url)
        guard let header = rows.first, header.count > 1 else { throw RunError("\(url.path): empty, expected a header and one row") }
        guard rows.count > 1 else { throw RunError("\(url.path): no data row after the header") }
        let text = (try? Data(contentsOf: url)) ?? Data()
        guard rows[1].count == header.count, text.last == UInt8(ascii: "\n") else {
            throw RunError(
                "\(url.path): truncated: the row has \(rows[1].count) of \(header.count) fields\(text.last == UInt8(ascii: "\n") ? "" : " and no final newline")"
            )
        }
        return rows
    }
}

import Foundation

/// Subsets of `trajectories.csv` for `prunelab trajectories`.
public enum TrajectoryExport {
    /// The header and the rows of `rows` (a CSV with `step` and `layer` columns, header first)
    /// whose layer is `layer` (any when nil) and whose step is a multiple of `every` (any when
    /// nil). Throws `RunError` naming `source` for a missing column, a non-integer step, a
    /// non-positive `every`, or a layer with no rows (listing the layers present).
    public static func subset(
        _ rows: [[String]], layer: String? = nil, every: Int? = nil,
        source: String = TrajectoryRecorder.samplesFile
    ) throws -> [[String]] {
        guard let header = rows.first else { throw RunError("\(source): empty file (no header row)") }
        guard let stepCol = header.firstIndex(of: "step"), let layerCol = header.firstIndex(of: "layer") else {
            throw RunError("\(source): no step and layer columns (header: \(header.joined(separator: ",")))")
        }
        if let every, every <= 0 { throw RunError("every must be positive, got \(every)") }
        var out = [header]
        var present: [String] = [], seen = Set<String>()
        for (line, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else {
                throw RunError("\(source): line \(line + 2) has \(r.count) fields, the header \(header.count)")
            }
            let l = r[layerCol]
            if seen.insert(l).inserted { present.append(l) }
            if let layer, l != layer { continue }
            if let every {
                guard let s = Int(r[stepCol]) else {
                    throw RunError("\(source): line \(line + 2): step \"\(r[stepCol])\" is not an integer")
                }
                if s % every != 0 { continue }
            }
            out.append(r)
        }
        if let layer, !seen.contains(layer) {
            throw RunError("\(source): no layer \"\(layer)\"; layers present: \(present.joined(separator: ", "))")
        }
        return out
    }

    /// `subset` of `runDir/trajectories.csv` as CSV text (header first).
    public static func subset(runDir: String, layer: String? = nil, every: Int? = nil) throws -> String {
        let url = URL(fileURLWithPath: runDir, isDirectory: true).appendingPathComponent(TrajectoryRecorder.samplesFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(url.path): no such file (record trajectories with recording.enabled=true)")
        }
        let rows = try subset(try CSVReader.read(url), layer: layer, every: every, source: url.path)
        var s = ""
        for r in rows { s += r.map(CSVTable.escape).joined(separator: ",") + "\n" }
        return s
    }
}

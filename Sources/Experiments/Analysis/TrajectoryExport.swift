import Foundation
import HDF5Support

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

extension TrajectoryExport {
    /// Every weight of `layer` from `runDir/trajectories.h5` as CSV text in the long format of
    /// `trajectories.csv` (`step,layer,index,row,col,value,grad,update,masked`), records whose
    /// step is a multiple of `every` (all when nil). `masked` is 1 from the weight's
    /// `pruned_step` on. Throws `RunError` naming the file for a missing store or layer.
    public static func fromStore(runDir: String, layer: String, every: Int? = nil) throws -> String {
        let url = URL(fileURLWithPath: runDir, isDirectory: true).appendingPathComponent(TrajectoryStore.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(url.path): no such file (record with recording.format=hdf5)")
        }
        if let every, every <= 0 { throw RunError("every must be positive, got \(every)") }
        do {
            let f = try HDF5File(path: url.path)
            guard f.hasGroup(layer) else {
                throw RunError("\(url.path): no layer \"\(layer)\"; layers: \((try? f.groupNames()) ?? [])")
            }
            let steps = try f.readInt64s("steps").values
            let value = try f.readFloats("\(layer)/value"), grad = try f.readFloats("\(layer)/grad").values
            let update = try f.readFloats("\(layer)/update").values, pruned = try f.readInt64s("\(layer)/pruned_step").values
            let columns = Int(try f.attributeString("shape", on: layer).split(separator: ",").last ?? "1") ?? 1
            let n = value.shape.last ?? 0
            // a sampled layer names its weights' flat indices
            let index = f.hasDataset("\(layer)/index") ? try f.readInt64s("\(layer)/index").values.map(Int.init) : Array(0..<n)
            var s = TrajectoryRecorder.samplesColumns.joined(separator: ",") + "\n"
            for (r, step) in steps.enumerated() where r < value.shape[0] && every.map({ step % Int64($0) == 0 }) ?? true {
                for (i, flat) in index.enumerated() {
                    let k = r * n + i
                    let masked = pruned[i] >= 0 && step >= pruned[i] ? 1 : 0
                    s +=
                        "\(step),\(CSVTable.escape(layer)),\(flat),\(flat / columns),\(flat % columns),\(value.values[k]),\(grad[k]),\(update[k]),\(masked)\n"
                }
            }
            return s
        } catch let e as HDF5Error {
            throw RunError("\(e)")
        }
    }
}

import Experiments
import Foundation
import Schema

/// One point of a sweep: its run folder's name, its axis values and its resolved config.
public struct SweepPoint: Sendable {
    public var index: Int
    /// The run folder's name under the sweep folder, derived from the axis values only.
    public var name: String
    /// The axis values in sweep order, as text (`linear`, `0.9`, `1`).
    public var values: [AxisValue]
    public var config: ExperimentConfig

    /// One axis key and its value at a point.
    public struct AxisValue: Sendable, Equatable {
        public var key: String
        public var value: String
    }
}

/// Every point of a sweep with its config: what `sweep-plan.json` in the sweep folder holds, so
/// workers (local processes, SLURM array tasks) run a point by its index.
public struct SweepPlan: Sendable {
    public static let fileName = SweepFiles.plan
    public var axes: [String]
    public var points: [SweepPoint]
    /// The command line that made the plan (`prunelab compare ...`, `prunelab sweep ...`), when known.
    public var command: String?
    /// The `--set` overrides given on that command line, in order.
    public var overrides: [String] = []

    /// What a point's `run.json` records as its command: the compare or sweep and the point.
    public func pointCommand(_ point: String) -> String {
        "\(command ?? "prunelab sweep"), point \(point)"
    }

    /// The points of `spec`. With `threads`, a point whose config leaves `training.threads` at 0
    /// (one per core) gets that many, so that parallel jobs share the cores; a config asking
    /// for more is an error.
    public static func make(_ spec: SweepSpec, threads: Int? = nil) throws -> SweepPlan {
        let base = try ConfigLoader.decode(spec.base)
        let arms = try Compare.arms(for: base)
        var points: [SweepPoint] = []
        for (index, combo) in combinations(spec.dimensions).enumerated() {
            var overrides: [String] = []
            for (key, text) in combo {
                guard key == "arm" else {
                    overrides.append("\(key)=\(text)")
                    continue
                }
                guard let arm = arms.first(where: { $0.name == display(text) }) else {
                    let known = arms.map(\.name).joined(separator: ", ")
                    throw ConfigError(path: "axes.arm", "unknown arm \(text); known: \(known)", file: spec.file)
                }
                overrides += arm.overrides + ["name=\(base.name)-\(arm.name)"]
            }
            let values = combo.map { SweepPoint.AxisValue(key: $0.0, value: display($0.1)) }
            let config = try pointConfig(spec, overrides: overrides, values: values, threads: threads)
            points.append(SweepPoint(index: index, name: folderName(values), values: values, config: config))
        }
        if let dup = points.map(\.name).firstDuplicate {
            throw ConfigError(path: "axes", "two points share the folder name \"\(dup)\"; make the axis values distinct", file: spec.file)
        }
        return SweepPlan(axes: spec.axisKeys, points: points)
    }

    /// One point's config: the base with the point's overrides, decoded strictly, with its threads.
    static func pointConfig(_ spec: SweepSpec, overrides: [String], values: [SweepPoint.AxisValue], threads: Int?) throws
        -> ExperimentConfig
    {
        let label = values.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        var config: ExperimentConfig
        do { config = try ConfigLoader.decode(try spec.base.applying(overrides)) } catch var e as ConfigError {
            e.message += " (at the point \(label))"
            e.file = e.file ?? spec.file
            throw e
        }
        guard let threads else { return config }
        if config.training.threads == 0 { config.training.threads = threads }
        guard config.training.threads <= threads else {
            throw ConfigError(
                path: "training.threads",
                "is \(config.training.threads), more than the \(threads) each parallel job may use (at the point \(label))", file: spec.file
            )
        }
        return config
    }

    /// The product of the dimensions, first outermost: per point, (key, JSON text) in order.
    static func combinations(_ dims: [SweepDimension]) -> [[(String, String)]] {
        dims.reduce([[]]) { partial, dim in
            partial.flatMap { prefix in dim.rows.map { row in prefix + Array(zip(dim.keys, row)) } }
        }
    }

    /// JSON text shown plainly: a string without its quotes, anything else as written.
    static func display(_ json: String) -> String {
        guard json.hasPrefix("\""), let s = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
        else { return json }
        return s
    }

    /// `<arm>-<key><value>-...-seed<k>`: an arm's name (`/` as `-`), other keys by their last
    /// component unless two axes share it, `null` as `default`, a path by its last component; characters outside
    /// `A-Za-z0-9._+-` become `_`.
    static func folderName(_ values: [SweepPoint.AxisValue]) -> String {
        let last = values.map { $0.key.split(separator: ".").last.map(String.init) ?? $0.key }
        let parts = values.enumerated().map { i, v -> String in
            let isPath = ConfigLoader.pathKeys.contains(v.key.split(separator: ".").map(String.init))
            let value = v.value == "null" ? "default" : isPath ? URL(fileURLWithPath: v.value).lastPathComponent : v.value
            switch v.key {
            case "arm": return value.replacingOccurrences(of: "/", with: "-")
            case "seed": return "seed\(value)"
            default: return (last.filter { $0 == last[i] }.count > 1 ? v.key : last[i]) + value
            }
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
        return String(parts.joined(separator: "-").map { allowed.contains($0) ? $0 : "_" })
    }
}

extension SweepPlan {
    /// Writes `sweep-plan.json` into `dir` (atomically).
    public func write(to dir: URL) throws {
        let points: [[String: Any]] = try points.map { p in
            let config = try JSONSerialization.jsonObject(with: try ConfigLoader.canonicalJSON(p.config))
            return [
                "index": p.index, "name": p.name, "config": config,
                "values": p.values.map { ["key": $0.key, "value": $0.value] },
            ]
        }
        var root: [String: Any] = ["format": "prunelab-sweep-1", "axes": axes, "points": points, "set": overrides]
        if let command { root["command"] = command }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try OutputFolder.write(data, to: dir.appendingPathComponent(Self.fileName))
    }

    /// Reads the plan a sweep wrote into `dir`.
    public static func read(dir: URL) throws -> SweepPlan {
        let url = dir.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunError("\(dir.path): not a sweep folder (no \(fileName))")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            root["format"] as? String == "prunelab-sweep-1", let axes = root["axes"] as? [String],
            let list = root["points"] as? [[String: Any]]
        else { throw RunError("\(url.path): not a PruneLab sweep plan") }
        let points = try list.enumerated().map { i, p -> SweepPoint in
            guard let name = p["name"] as? String, let values = p["values"] as? [[String: String]], let config = p["config"] else {
                throw RunError("\(url.path): point \(i) is incomplete")
            }
            let decoded = try ConfigLoader.decode(try JSONSerialization.data(withJSONObject: config))
            let axisValues = values.map { SweepPoint.AxisValue(key: $0["key"] ?? "", value: $0["value"] ?? "") }
            return SweepPoint(index: i, name: name, values: axisValues, config: decoded)
        }
        var plan = SweepPlan(axes: axes, points: points)
        plan.command = root["command"] as? String
        plan.overrides = root["set"] as? [String] ?? []
        return plan
    }
}

import Experiments
import Foundation
import Schema

/// A sweep file: a base config, fixed overrides, and axes whose product (or zipped groups)
/// gives the sweep's points.
///
///     {"base": "../mnist-lenet300-compare.json",          // relative: from the sweep file's folder
///      "set": {"training.epochs": 2},                      // applied to every point
///      "axes": {"arm": ["han", "linear"], "pruning.target_sparsity": [0.8, 0.9], "seed": [1, 2, 3]},
///      "zip": [["pruning.target_sparsity", "pruning.han.rounds"]],   // optional: axes that move together
///      "slurm": {"time": "00:30:00", "cpus_per_task": 1, "mem": "2G", "max_parallel": 4,
///                "account": "proj42", "qos": "short", "constraint": "avx512", "job_name": "lenet",
///                "setup": ["module load openblas", "export OMP_PROC_BIND=close"]}}
///
/// `slurm`'s one-word values become `#SBATCH` lines of `sweep.sbatch`; its `setup` lines run
/// in order before each task's command. `prunelab sweep` flags override them (`--setup` adds lines).
///
/// An axis key is any config key path (`pruning.dynamic.criterion`, `training.learning_rate`,
/// `seed`), or `arm`, whose values are compare arms (`prunelab list arms`: `han`, `linear`,
/// `linear/adaptive`, ...) that expand to the arm's overrides. Axis values are JSON values;
/// `null` removes the key so its default applies; a relative path given to a path key
/// (`data.dir`, `model.init_file`, ...) is taken from the sweep file's folder. Axes are ordered `arm` first, then the
/// other keys sorted, `seed` last (JSON objects have no order); a zip group sits where its
/// first key would. Points enumerate the first axis outermost.
public struct SweepSpec: Sendable {
    /// The base config with `set` applied.
    public var base: ConfigDocument
    /// The sweep file, for error messages.
    public var file: String
    /// The dimensions of the product, in order; each holds one key or a zipped group.
    public var dimensions: [SweepDimension]
    /// SLURM resources from the file's `slurm` block (flags override them).
    public var slurm: SlurmResources

    /// The top-level keys a sweep file may have.
    static let keys = ["base", "set", "axes", "zip", "slurm"]

    /// A spec built in code (the `compare` preset); `axes` in the order given.
    public init(base: ConfigDocument, file: String, axes: [(key: String, values: [String])], slurm: SlurmResources = .init()) {
        self.init(
            base: base, file: file, dimensions: axes.map { SweepDimension(keys: [$0.key], rows: $0.values.map { [$0] }) }, slurm: slurm)
    }

    init(base: ConfigDocument, file: String, dimensions: [SweepDimension], slurm: SlurmResources) {
        self.base = base
        self.file = file
        self.dimensions = dimensions
        self.slurm = slurm
    }

    /// Every axis key, in sweep order.
    public var axisKeys: [String] { dimensions.flatMap(\.keys) }

    /// Reads and checks a sweep file; every error is one line naming the file and key.
    public static func load(path: String) throws -> SweepSpec {
        do { return try parse(path: path) } catch var e as ConfigError {
            if e.file == nil { e.file = path }
            throw e
        }
    }

    static func parse(path: String) throws -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: "", "no such file or not readable")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigError(path: "", "not a JSON object")
        }
        if let comma = TrailingCommas.first(in: data) { throw ConfigError(path: "", comma.message) }
        if let key = DuplicateKeys.first(in: data) { throw ConfigError(path: key, "appears twice in one object") }
        for k in root.keys.sorted() where !keys.contains(k) {
            throw ConfigError(path: k, "unknown key; a sweep file has \(keys.joined(separator: ", "))")
        }
        guard let base = root["base"] as? String, !base.isEmpty else {
            throw ConfigError(path: "base", "give the base config's path (relative to the sweep file's folder)")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let basePath = ConfigLoader.absolutePath(base, against: folder)
        let set = try overrides(root["set"], key: "set", folder: folder)
        let doc: ConfigDocument
        do { doc = try ConfigLoader.document(path: basePath, overrides: set) } catch let e as ConfigError {
            throw ConfigError(path: e.path.isEmpty ? "base" : e.path, "\(e.file.map { "\($0): " } ?? "")\(e.message)")
        }
        let dims = try dimensions(try axes(root["axes"], folder: folder), zip: root["zip"])
        return SweepSpec(base: doc, file: path, dimensions: dims, slurm: try SlurmResources(json: root["slurm"]))
    }

    /// `{"a.b": value, ...}` as `a.b=<JSON>` overrides, sorted by key.
    static func overrides(_ node: Any?, key: String, folder: URL) throws -> [String] {
        guard let node else { return [] }
        guard let dict = node as? [String: Any] else { throw ConfigError(path: key, "must be an object of key.path: value") }
        return try dict.keys.sorted().map { k in "\(k)=\(try jsonText(resolved(dict[k]!, key: k, folder: folder), key: "\(key).\(k)"))" }
    }

    /// A relative path given to a path key (`data.dir`, ...) made absolute against the sweep
    /// file's folder, as paths inside a config are against the config's.
    static func resolved(_ value: Any, key: String, folder: URL) -> Any {
        guard let s = value as? String, ConfigLoader.pathKeys.contains(key.split(separator: ".").map(String.init)) else { return value }
        return ConfigLoader.absolutePath(s, against: folder)
    }

    /// `{"key": [v1, v2, ...]}`: each value as JSON text.
    static func axes(_ node: Any?, folder: URL) throws -> [String: [String]] {
        guard let dict = node as? [String: Any], !dict.isEmpty else {
            throw ConfigError(path: "axes", "must be a non-empty object of key.path: [values]")
        }
        var out: [String: [String]] = [:]
        for (k, v) in dict {
            guard let list = v as? [Any], !list.isEmpty else { throw ConfigError(path: "axes.\(k)", "must be a non-empty list of values") }
            let texts = try list.enumerated().map { try jsonText(resolved($1, key: k, folder: folder), key: "axes.\(k)[\($0)]") }
            if k == "arm", let bad = list.first(where: { !($0 is String) }) {
                throw ConfigError(path: "axes.arm", "arm names are strings, got \(bad)")
            }
            out[k] = texts
        }
        return out
    }

    /// The zip groups of a sweep file, checked against its axes.
    static func zipGroups(_ node: Any?, axes: [String: [String]]) throws -> [[String]] {
        guard let node else { return [] }
        guard let groups = node as? [[String]] else { throw ConfigError(path: "zip", "must be a list of lists of axis keys") }
        var grouped = Set<String>()
        for (i, g) in groups.enumerated() {
            guard g.count >= 2 else { throw ConfigError(path: "zip[\(i)]", "a zip group names at least two axes") }
            for k in g {
                guard let values = axes[k] else { throw ConfigError(path: "zip[\(i)]", "\"\(k)\" is not a key of axes") }
                let n = axes[g[0]]?.count ?? 0
                guard values.count == n else {
                    throw ConfigError(
                        path: "zip[\(i)]", "zipped axes need equal lengths: \(g[0]) has \(n) values, \(k) has \(values.count)")
                }
                guard grouped.insert(k).inserted else { throw ConfigError(path: "zip[\(i)]", "\"\(k)\" is in two zip groups") }
            }
        }
        return groups
    }

    /// The axes in sweep order with zip groups merged into one dimension each.
    static func dimensions(_ axes: [String: [String]], zip: Any?) throws -> [SweepDimension] {
        let groups = try zipGroups(zip, axes: axes)
        var dims: [SweepDimension] = []
        for k in axes.keys.sorted(by: axisOrder) where !dims.contains(where: { $0.keys.contains(k) }) {
            let keys = groups.first { $0.contains(k) } ?? [k]
            let n = axes[keys[0]]!.count
            let rows = (0..<n).map { i in keys.map { axes[$0]![i] } }
            if let dup = rows.firstDuplicate {
                let path = keys.count == 1 ? "axes.\(k)" : "zip[\(groups.firstIndex(of: keys)!)]"
                throw ConfigError(path: path, "lists \(dup.joined(separator: ", ")) twice")
            }
            dims.append(SweepDimension(keys: keys, rows: rows))
        }
        return dims
    }

    /// `arm` first, `seed` last, the rest by name.
    static func axisOrder(_ a: String, _ b: String) -> Bool {
        func rank(_ k: String) -> Int { k == "arm" ? 0 : k == "seed" ? 2 : 1 }
        return rank(a) != rank(b) ? rank(a) < rank(b) : a < b
    }

    /// A JSON value as compact JSON text with sorted keys (`"linear"`, `0.9`, `null`, `[1,2]`).
    static func jsonText(_ value: Any, key: String) throws -> String {
        if value is NSNull { return "null" }
        let options: JSONSerialization.WritingOptions = [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]
        guard let d = try? JSONSerialization.data(withJSONObject: value, options: options) else {
            throw ConfigError(path: key, "is not a JSON value")
        }
        return String(decoding: d, as: UTF8.self)
    }
}

/// One dimension of a sweep: one axis, or a zip group whose axes move together.
public struct SweepDimension: Sendable, Equatable {
    /// The axis keys (one, or a zip group's).
    public var keys: [String]
    /// One row per position: the JSON text of each key's value.
    public var rows: [[String]]
}

extension Array where Element: Hashable {
    /// The first element that occurs twice, if any.
    var firstDuplicate: Element? {
        var seen = Set<Element>()
        return first { !seen.insert($0).inserted }
    }
}

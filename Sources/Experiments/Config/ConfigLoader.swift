import Foundation
import Schema
import Pruning

/// Reads a config file, applies `--set key.path=value` overrides and decodes it strictly.
public enum ConfigLoader {
    /// Loads and validates `path`; every error names the file and, when known, the JSON path.
    public static func load(path: String, overrides: [String] = []) throws -> ExperimentConfig {
        try named(path) { try decode(document(path: path, overrides: overrides)) }
    }

    /// The config file as a JSON object with `overrides` applied, not yet decoded (compare and
    /// sweeps derive their runs' configs from it with further overrides).
    public static func document(path: String, overrides: [String] = []) throws -> ConfigDocument {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(path: "", "no such file", file: path)
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(path: "", "cannot read: \(error.localizedDescription)", file: path)
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try named(path) { try document(data, overrides: overrides, relativeTo: folder) }
    }

    /// The config keys that hold file or folder paths.
    package static let pathKeys = [["data", "dir"], ["data", "train_file"], ["data", "test_file"], ["model", "init_file"]]

    /// `object` with each relative path under `pathKeys` made absolute against `folder`, so a
    /// config works from any working directory and config.json records paths that still work.
    static func resolvingPaths(_ object: Any, against folder: URL) -> Any {
        guard var root = object as? [String: Any] else { return object }
        for keys in pathKeys {
            guard var section = root[keys[0]] as? [String: Any], let value = section[keys[1]] as? String else { continue }
            section[keys[1]] = absolutePath(value, against: folder)
            root[keys[0]] = section
        }
        return root
    }

    package static func absolutePath(_ value: String, against folder: URL) -> String {
        guard !value.isEmpty, !value.hasPrefix("/") else { return value }
        return URL(fileURLWithPath: value, relativeTo: folder).standardizedFileURL.path
    }

    /// Overrides that change nothing in `config`: keys of a method, criterion or schedule
    /// section that the run does not use (such sections are checked and then dropped, see
    /// `PruningConfig`). Returned as warnings for the CLI to print.
    public static func unusedOverrides(_ config: ExperimentConfig, overrides: [String]) -> [String] {
        overrides.compactMap { o in
            let key = String(o.prefix { $0 != "=" })
            let parts = key.split(separator: ".").map(String.init)
            guard parts.count >= 2, parts[0] == "pruning" else { return nil }
            let method = config.pruning.method
            if MethodRegistry.names.contains(parts[1]), parts[1] != method {
                return "--set \(o) has no effect: pruning.method is \(method)"
            }
            if parts[1] == DynamicMethod.name, parts.count >= 3,
                let dynamic = config.pruning.settings.value as? DynamicSettings,
                (CriterionRegistry.names + ScheduleRegistry.names).contains(parts[2]),
                parts[2] != dynamic.criterion, parts[2] != dynamic.schedule
            {
                return "--set \(o) has no effect: the criterion is \(dynamic.criterion) and the schedule \(dynamic.schedule)"
            }
            return nil
        }
    }

    /// Decodes config JSON bytes after applying overrides.
    public static func decode(_ data: Data, overrides: [String] = []) throws -> ExperimentConfig {
        try decode(document(data, overrides: overrides))
    }

    /// `relativeTo`: the config file's folder, against which its relative paths resolve.
    static func document(_ data: Data, overrides: [String], relativeTo folder: URL? = nil) throws -> ConfigDocument {
        var object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error.localizedDescription)"
            throw ConfigError(path: "", "invalid JSON: \(detail)")
        }
        guard object is [String: Any] else { throw ConfigError(path: "", "the top level must be a JSON object") }
        if let comma = TrailingCommas.first(in: data) { throw ConfigError(path: "", comma.message) }
        if let key = DuplicateKeys.first(in: data) { throw ConfigError(path: key, "appears twice in one object") }
        if let folder { object = resolvingPaths(object, against: folder) }
        var doc = ConfigDocument(object: object)
        try doc.apply(overrides)
        return doc
    }

    /// Decodes and validates a document.
    public static func decode(_ doc: ConfigDocument) throws -> ExperimentConfig {
        let patched = try JSONSerialization.data(withJSONObject: doc.object)
        let config: ExperimentConfig
        do { config = try JSONDecoder().decode(ExperimentConfig.self, from: patched) } catch let e as DecodingError {
            throw describe(e, in: doc.object)
        } catch let e as ConfigError {
            throw e
        } catch {
            // Foundation's internal number errors carry no key (integers are decoded through
            // `required(_:)`, which names it; this is the fallback for anything it misses).
            throw ConfigError(path: "", "a number does not fit the integer key it is given to (\(error))")
        }
        try config.validate()
        return config
    }

    /// Runs `body`, stamping `path` on a `ConfigError` it throws.
    static func named<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch var e as ConfigError {
            if e.file == nil { e.file = path }
            throw e
        }
    }

    /// Sets `a.b.c` in a JSON object to `value`, parsed as JSON when it parses (numbers, true,
    /// false, lists, objects, quoted strings) and taken as a bare string otherwise; `null` removes
    /// the key so that its default applies. A relative path (`data.dir`, ...) is made absolute
    /// against the working directory.
    static func apply(override: String, to root: Any) throws -> Any {
        guard let eq = override.firstIndex(of: "=") else {
            throw ConfigError(path: override, "an override is written key.path=value")
        }
        let keyPath = String(override[..<eq])
        let raw = String(override[override.index(after: eq)...])
        let keys = keyPath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !keys.isEmpty, !keys.contains(where: \.isEmpty) else {
            throw ConfigError(path: keyPath, "empty key in override \"\(override)\"")
        }
        var value: Any = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
        if pathKeys.contains(keys), let path = value as? String {  // a path given on the command line: from the working directory
            value = absolutePath(path, against: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        }
        if !(value is String), let key = DuplicateKeys.first(in: Data(raw.utf8)) {
            throw ConfigError(path: child(keyPath, key), "appears twice in one object (in --set \(keyPath)=...)")
        }
        if !(value is String), let comma = TrailingCommas.first(in: Data(raw.utf8)) {
            throw ConfigError(path: keyPath, "\(comma.message) (in --set \(keyPath)=...)")
        }
        func set(_ node: Any, _ rest: ArraySlice<String>, _ done: String) throws -> Any {
            guard var dict = node as? [String: Any] else {
                throw ConfigError(path: done, "is not an object, cannot set \(keyPath)")
            }
            let k = rest.first!
            let here = done.isEmpty ? k : "\(done).\(k)"
            if rest.count == 1 {
                dict[k] = value is NSNull ? nil : value  // `key=null` removes the key: its default applies
            } else {
                dict[k] = try set(dict[k] ?? [String: Any](), rest.dropFirst(), here)
            }
            return dict
        }
        return try set(root, keys[...], "")
    }

    /// Canonical JSON of a config: sorted keys, every default filled in.
    public static func canonicalJSON(_ config: ExperimentConfig) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try enc.encode(config)
    }
}

/// A config as a JSON object, before decoding: what `--set` overrides act on.
public struct ConfigDocument: @unchecked Sendable {
    // @unchecked: `object` is a tree of Foundation JSON values (dictionaries, arrays, strings,
    // numbers) that is only ever replaced, never mutated in place, so sharing it is safe.
    public private(set) var object: Any

    public mutating func apply(_ overrides: [String]) throws {
        for o in overrides { object = try ConfigLoader.apply(override: o, to: object) }
    }

    public func applying(_ overrides: [String]) throws -> ConfigDocument {
        var d = self
        try d.apply(overrides)
        return d
    }
}

import Foundation
import Schema
import Pruning

/// What the registries hold, for `prunelab list` and the key tables of `configs/README.md`:
/// both are generated here from the registries and the config sections, so the docs cannot
/// drift from the code (a test compares the README with `keysMarkdown()`).
public enum Catalog {
    /// The kinds `prunelab list` prints.
    public static let kinds = ["methods", "criteria", "schedules", "arms", "presets", "formats", "keys"]

    /// One config section in the docs: where it sits, its type, and a minimal JSON that
    /// decodes (for sections with required keys, which are then documented as required).
    struct Section {
        let path: String
        let type: any ConfigSection.Type
        var minimal = "{}"
        var title: String? = nil
    }

    static var sections: [Section] {
        var s: [Section] = [
            Section(
                path: "", type: ExperimentConfig.self,
                minimal: #"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-300-100"}}"#,
                title: "top level"),
            Section(path: "data", type: DataConfig.self, minimal: #"{"format": "idx"}"#),
            Section(path: "data.augment", type: AugmentConfig.self),
            Section(path: "model", type: ModelConfig.self),
            Section(path: "training", type: TrainingConfig.self),
            Section(path: "training.schedule", type: ScheduleConfig.self),
            Section(path: "training.adam", type: AdamConfig.self),
            Section(path: "training.quantize", type: QuantizeConfig.self),
            Section(path: "pruning", type: PruningSettingsDoc.self),
        ]
        for m in MethodRegistry.all where m.settingsType.keyHelp.count > 0 {
            s.append(Section(path: "pruning.\(m.name)", type: m.settingsType))
            if m.name == HanMethod.name { s.append(Section(path: "pruning.han.curve", type: CurveConfig.self)) }
            if m.name == DynamicMethod.name { s.append(Section(path: "pruning.dynamic.freeze", type: FreezeSettings.self)) }
        }
        for c in CriterionRegistry.all where c.settingsType.keyHelp.count > 0 {
            s.append(Section(path: "pruning.dynamic.\(c.name)", type: c.settingsType))
        }
        for sc in ScheduleRegistry.all where sc.settingsType.keyHelp.count > 0 {
            s.append(Section(path: "pruning.dynamic.\(sc.name)", type: sc.settingsType))
        }
        s.append(Section(path: "recording", type: RecordingConfig.self))
        s.append(Section(path: "checkpoint", type: CheckpointConfig.self))
        s.append(Section(path: "tensorboard", type: TensorBoardConfig.self))
        return s
    }

    /// The `## Keys` part of configs/README.md.
    public static func keysMarkdown() throws -> String {
        var out =
            "Durations are strings: `\"2ep\"` (epochs) or `\"500it\"` (optimizer steps). "
            + "Generated from the code (`prunelab list keys`); a test fails when this part differs.\n"
        for section in sections {
            out += "\n### \(section.title ?? "`\(section.path)`")\n\n| key | default | meaning |\n| --- | --- | --- |\n"
            let defaults = try defaultValues(section)
            for (key, help) in section.type.keyHelp {
                out += "| `\(key)` | \(defaults[key] ?? "—") | \(help.replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
        }
        out += "\n### layer kinds in `model.layers` (`type` defaults to `dense`)\n\n| `type` | keys |\n| --- | --- |\n"
        for kind in LayerSpec.Kind.allCases {
            let keys = LayerSpec.keys[kind, default: []].map { "`\($0.key.stringValue)` (\($0.help))" }
            out += "| `\(kind.rawValue)` | \(keys.isEmpty ? "—" : keys.joined(separator: "; ")) |\n"
        }
        return out
    }

    /// Each key's default as it would appear in `config.json` (`required` for the keys of the
    /// minimal document, `—` when absent means "not set").
    static func defaultValues(_ section: Section) throws -> [String: String] {
        func open<T: ConfigSection>(_: T.Type) throws -> Any {
            try JSONDecoder().decode(T.self, from: Data(section.minimal.utf8)).jsonObject()
        }
        let object = (try open(section.type) as? [String: Any]) ?? [:]
        let required = Set(((try? JSONSerialization.jsonObject(with: Data(section.minimal.utf8))) as? [String: Any])?.keys.map { $0 } ?? [])
        var out: [String: String] = [:]
        for (key, _) in section.type.keyHelp {
            if required.contains(key) { out[key] = "required"; continue }
            guard let v = object[key] else { continue }
            if v is [String: Any], !(v as! [String: Any]).isEmpty { out[key] = "see `\(child(section.path, key))`"; continue }
            let data = try JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
            out[key] = "`\(String(decoding: data, as: UTF8.self))`"
        }
        return out
    }

    /// The text `prunelab list KIND` prints.
    public static func text(_ kind: String, base: ExperimentConfig? = nil) throws -> String {
        switch kind {
        case "methods":
            return table(MethodRegistry.all.map { ($0.name, $0.summary, keys(of: $0.settingsType)) })
        case "criteria":
            let dynamic = CriterionRegistry.all.map { ("\($0.name)", "dynamic: \($0.summary)", keys(of: $0.settingsType)) }
            let unit = UnitCriterionRegistry.all.map { ("\($0.name)", "structured: \($0.summary)", "") }
            return table(dynamic + unit)
        case "schedules":
            return table(ScheduleRegistry.all.map { ($0.name, $0.summary, keys(of: $0.settingsType)) })
        case "arms":
            let config =
                try base ?? ConfigLoader.decode(Data(#"{"data": {"format": "idx", "dir": "d"}, "model": {"preset": "lenet-5"}}"#.utf8))
            return table(
                try MethodRegistry.arms(for: config).map {
                    ($0.name, ($0.isDefault ? "(default) " : "") + $0.overrides.joined(separator: " "), "")
                })
        case "presets":
            return table(ModelRegistry.presetNames.map { ($0, ModelRegistry.presetHelp[$0] ?? "", "") })
        case "formats":
            return table(DataConfig.Format.allCases.map { ($0.rawValue, DataConfig.formatHelp[$0] ?? "", "") })
        case "keys":
            return try keysMarkdown()
        default:
            throw ConfigError(path: "", "prunelab list: unknown kind \"\(kind)\"; kinds: \(kinds.joined(separator: ", "))")
        }
    }

    /// `key=default` for every key of a section (`key` alone where it has no default).
    static func keys(of type: any ConfigSection.Type) -> String {
        let defaults = (try? defaultValues(Section(path: "", type: type))) ?? [:]
        return type.keyHelp.map { k in
            defaults[k.key].map { "\(k.key)=\($0.hasPrefix("see ") ? "{…}" : $0.trimmingCharacters(in: CharacterSet(charactersIn: "`")))" }
                ?? k.key
        }.joined(separator: ", ")
    }

    static func table(_ rows: [(String, String, String)]) -> String {
        let w = rows.map(\.0.count).max() ?? 0
        return rows.map { r in
            r.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + r.1
                + (r.2.isEmpty ? "" : "\n" + String(repeating: " ", count: w + 2) + "keys: " + r.2)
        }.joined(separator: "\n")
    }
}

/// The shared keys of `pruning`, as a section for the docs.
struct PruningSettingsDoc: ConfigSection {
    static let keyHelp = PruningConfig.keyHelp
    let value: PruningConfig
    init(from decoder: Decoder) throws { value = try PruningConfig(from: decoder) }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
    static func == (a: Self, b: Self) -> Bool { a.value == b.value }
}

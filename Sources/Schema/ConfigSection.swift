import Foundation

/// A section of a config: decoded strictly (unknown keys are errors, absent keys take their
/// defaults), range-checked with its JSON path, and documented key by key.
///
/// Defaults live in `init(from:)` and only there: `defaults()` decodes `{}`, and the generated
/// docs (`prunelab list`, `configs/README.md`) encode that value, so the documented default is
/// always the one a run uses.
public protocol ConfigSection: Codable, Equatable, Sendable {
    /// One line of help per key, in the order the docs list them; a key's unit goes here.
    static var keyHelp: [(key: String, help: String)] { get }
    /// Range checks the type system cannot express; `path` is where the section sits
    /// (`pruning.dynamic.linear`), so errors name the full key.
    func validate(at path: String) throws
}

extension ConfigSection {
    /// The section with every key at its default.
    public static func defaults() throws -> Self {
        try JSONDecoder().decode(Self.self, from: Data("{}".utf8))
    }

    public func validate(at path: String) throws {}

    /// The section as a JSON object (sorted keys), e.g. for the docs and for config.json.
    public func jsonObject() throws -> Any {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return try JSONSerialization.jsonObject(with: try enc.encode(self), options: [.fragmentsAllowed])
    }
}

/// A section with no keys (a criterion or schedule that takes no settings).
public struct NoSettings: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = []
    enum CodingKeys: String, CodingKey, CaseIterable { case none }
    public init() {}
    public init(from decoder: Decoder) throws { try decoder.rejectUnknownKeys(CodingKeys.self) }
    public func encode(to encoder: Encoder) throws { _ = encoder.container(keyedBy: CodingKeys.self) }
}

/// Path of a key below a section path: `child("pruning.dynamic", "every")`.
public func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

/// A registry entry: anything listed by name (methods, criteria, schedules).
public protocol RegistryEntry: Sendable {
    var name: String { get }
    var summary: String { get }
}

extension Array where Element: RegistryEntry {
    public var names: [String] { map(\.name) }
    public func entry(named name: String) -> Element? { first { $0.name == name } }
}

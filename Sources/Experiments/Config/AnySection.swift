import Foundation
import Schema

/// A config section whose type a registry chose at decoding time (a method's, criterion's or
/// schedule's settings), kept behind `ConfigSection`.
public struct AnySection: Equatable, Sendable, Encodable {
    public let name: String
    public let value: any ConfigSection

    public init(name: String, value: any ConfigSection) {
        self.name = name
        self.value = value
    }

    public static func == (a: AnySection, b: AnySection) -> Bool {
        a.name == b.name && equal(a.value, b.value)
    }

    public func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }

    /// The settings as `T` (a programmer error when a registry paired the wrong types).
    public func typed<T: ConfigSection>(_: T.Type = T.self) -> T {
        guard let t = value as? T else { preconditionFailure("section \(name) holds \(type(of: value)), not \(T.self)") }
        return t
    }

    /// Decodes `type`'s section from `key` of `container` (its defaults when the key is absent)
    /// and validates it at `path`.
    static func decode<K: CodingKey>(
        _ type: any ConfigSection.Type, name: String, from container: KeyedDecodingContainer<K>,
        key: K, path: String
    ) throws -> AnySection {
        func open<T: ConfigSection>(_: T.Type) throws -> any ConfigSection {
            try container.value(key, default: try T.defaults())
        }
        let value = try open(type)
        try value.validate(at: path)
        return AnySection(name: name, value: value)
    }
}

private func equal<T: ConfigSection>(_ a: T, _ b: any ConfigSection) -> Bool {
    (b as? T) == a
}

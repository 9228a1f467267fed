import Foundation

/// A coding key for any string, used to list every key present in a JSON object.
public struct AnyKey: CodingKey {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

/// Bad configuration: names the JSON path (`training.optimizer.learning_rate`) and the problem.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var message: String
    public var file: String?
    public init(path: String, _ message: String, file: String? = nil) {
        self.path = path
        self.message = message
        self.file = file
    }
    public var description: String {
        let place = path.isEmpty ? "" : "key '\(path)': "
        return (file.map { "\($0): " } ?? "") + place + message
    }
}

/// Renders a coding path as a JSON path: `training.optimizer.learning_rate`, `model.layers[2].units`.
public func jsonPath(_ codingPath: [CodingKey]) -> String {
    var s = ""
    for key in codingPath {
        if let i = key.intValue { s += "[\(i)]" } else { s += s.isEmpty ? key.stringValue : ".\(key.stringValue)" }
    }
    return s
}

extension Decoder {
    /// Throws for any key of the current object that `Keys` does not list.
    ///
    /// Foundation's `JSONDecoder` silently ignores unknown keys, which turns a typo such as
    /// `"lerning_rate"` into a silent default; every config type calls this first.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !known.contains(key.stringValue) {
            let path = jsonPath(codingPath + [key])
            throw ConfigError(path: path, "unknown key; known keys here: \(known.sorted().joined(separator: ", "))")
        }
    }
}

extension KeyedDecodingContainer {
    /// Decodes an optional key, falling back to `fallback` only when the key is absent
    /// (an explicit `null` or a wrong type is an error, never a silent default).
    public func value<T: Decodable>(_ key: Key, default fallback: @autoclosure () throws -> T) throws -> T {
        guard contains(key) else { return try fallback() }
        return try decode(T.self, forKey: key)
    }
}

/// One-line description of a `DecodingError`, with its JSON path.
public func describe(_ error: DecodingError) -> ConfigError {
    switch error {
    case .typeMismatch(let type, let ctx):
        return ConfigError(path: jsonPath(ctx.codingPath), "expected \(typeName(type)); \(ctx.debugDescription)")
    case .valueNotFound(let type, let ctx):
        return ConfigError(path: jsonPath(ctx.codingPath), "expected \(typeName(type)), found null")
    case .keyNotFound(let key, let ctx):
        return ConfigError(path: jsonPath(ctx.codingPath + [key]), "required key is missing")
    case .dataCorrupted(let ctx):
        let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return ConfigError(path: jsonPath(ctx.codingPath), underlying.map { "invalid JSON: \($0)" } ?? ctx.debugDescription)
    @unknown default:
        return ConfigError(path: "", "\(error)")
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Double.Type, is Float.Type: return "a number"
    case is Int.Type, is UInt64.Type: return "an integer"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    default:
        let s = "\(type)"
        return s.hasPrefix("Array") ? "a list" : (s.hasPrefix("Dictionary") ? "an object" : s)
    }
}

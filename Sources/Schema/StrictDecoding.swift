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
    ///
    /// Integers and string enums get errors that name the key (see `required(_:)`).
    public func value<T: Decodable>(_ key: Key, default fallback: @autoclosure () throws -> T) throws -> T {
        guard contains(key) else { return try fallback() }
        return try required(key)
    }

    /// Decodes a key that must be present.
    ///
    /// Foundation's decoder reports an integer key given `1.5`, `-1` (unsigned), `1e30` or 2^64
    /// as "The given data was not valid JSON" with no key at all; here it is "`seed`: must be a
    /// non-negative integer, got -1". A string enum given an unknown value lists the valid ones.
    public func required<T: Decodable>(_ key: Key) throws -> T {
        if let integer = T.self as? any StrictInteger.Type {
            return try integer.strictlyDecoded(from: self, key) as! T  // `integer` is `T.self`
        }
        if let enumeration = T.self as? any (CaseIterable & RawRepresentable).Type {
            try checkEnumValue(enumeration, key)
        }
        return try decode(T.self, forKey: key)
    }

    /// Throws, listing the cases, when `key` holds a string that is not a raw value of `E`.
    private func checkEnumValue<E: CaseIterable & RawRepresentable>(_: E.Type, _ key: Key) throws {
        guard E.RawValue.self == String.self, let s = try? decode(String.self, forKey: key) else { return }
        let names = E.allCases.map { "\($0.rawValue)" }
        guard !names.contains(s) else { return }
        throw ConfigError(path: jsonPath(codingPath + [key]), "must be one of \(names.joined(separator: ", ")); got \"\(s)\"")
    }
}

/// An integer type decoded with a key-naming error for fractions, negatives (unsigned types)
/// and values out of range.
public protocol StrictInteger: FixedWidthInteger, Decodable {}
extension Int: StrictInteger {}
extension Int32: StrictInteger {}
extension Int64: StrictInteger {}
extension UInt64: StrictInteger {}
extension UInt32: StrictInteger {}

extension StrictInteger {
    static func strictlyDecoded<K>(from c: KeyedDecodingContainer<K>, _ key: K) throws -> Self {
        do {
            return try c.decode(Self.self, forKey: key)
        } catch let error as DecodingError {
            // a string, a list, null: those errors carry the key already
            guard case .dataCorrupted = error else { throw error }
        } catch {
            // Foundation throws an internal `JSONError.numberIsNotRepresentableInSwift`
            // (rendered as "The given data was not valid JSON", no key) for a JSON number
            // that does not fit `Self`; describe it here, with the key.
        }
        let kind = Self.isSigned ? "an integer" : "a non-negative integer"
        let path = jsonPath(c.codingPath + [key])
        guard let d = try? c.decode(Double.self, forKey: key) else { throw ConfigError(path: path, "must be \(kind)") }
        let shown = describeNumber(d, exact: try? c.decode(Decimal.self, forKey: key))
        let range = d.rounded() == d && (Self.isSigned || d >= 0) ? " from \(Self.min) to \(Self.max)" : ""
        throw ConfigError(path: path, "must be \(kind)\(range), got \(shown)")
    }
}

/// A JSON number as written: whole numbers in full (`18446744073709551616`), others as Swift prints them.
private func describeNumber(_ d: Double, exact: Decimal?) -> String {
    if d.rounded() == d, abs(d) < 1e25, let exact { return "\(exact)" }
    return "\(d)"
}

/// One-line description of a `DecodingError`, with its JSON path: what the key takes, with an
/// example, and what it holds in `document` (the decoded JSON object, when given), never
/// Foundation's decoder sentence.
public func describe(_ error: DecodingError, in document: Any? = nil) -> ConfigError {
    switch error {
    case .typeMismatch(let type, let ctx):
        let found = document.flatMap { value(at: ctx.codingPath, in: $0) }.map { "; got \(describeValue($0))" } ?? ""
        return ConfigError(path: jsonPath(ctx.codingPath), "must be \(expectedForm(type))\(found)")
    case .valueNotFound(let type, let ctx):
        return ConfigError(path: jsonPath(ctx.codingPath), "must be \(expectedForm(type)); got null")
    case .keyNotFound(let key, let ctx):
        return ConfigError(path: jsonPath(ctx.codingPath + [key]), "required key is missing")
    case .dataCorrupted(let ctx):
        let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return ConfigError(path: jsonPath(ctx.codingPath), underlying.map { "invalid JSON: \($0)" } ?? ctx.debugDescription)
    @unknown default:
        return ConfigError(path: "", "\(error)")
    }
}

/// What a value of `type` is written as in a config, with an example.
private func expectedForm(_ type: Any.Type) -> String {
    switch type {
    case is Double.Type, is Float.Type: return "a number, e.g. 0.1"
    case is any FixedWidthInteger.Type: return "an integer, e.g. 20"
    case is String.Type: return #"a string in double quotes, e.g. "fc1" (with --set, key='"fc1"')"#
    case is Bool.Type: return "true or false"
    default:
        let s = "\(type)"
        return s.hasPrefix("Array") ? "a list, e.g. [1, 2]" : (s.hasPrefix("Dictionary") ? "an object, e.g. {\"key\": 1}" : s)
    }
}

/// The value at `path` in a JSON object tree, or nil.
func value(at path: [CodingKey], in document: Any) -> Any? {
    var node: Any = document
    for key in path {
        if let i = key.intValue, let list = node as? [Any], i >= 0, i < list.count {
            node = list[i]
        } else if let dict = node as? [String: Any], let next = dict[key.stringValue] {
            node = next
        } else {
            return nil
        }
    }
    return node
}

/// A JSON value as a config error shows it: `the string "two"`, `the number 10`, `true`, `a list`.
public func describeValue(_ v: Any) -> String {
    switch v {
    case let s as String: return "the string \"\(s)\""
    case is [Any]: return "a list"
    case is [String: Any]: return "an object"
    case is NSNull: return "null"
    default:
        if let b = v as? Bool, "\(type(of: v))".contains("Bool") { return b ? "true" : "false" }
        if let n = v as? NSNumber {
            let d = n.doubleValue
            return "the number \(d.rounded() == d && abs(d) < 1e15 ? "\(Int64(d))" : "\(d)")"
        }
        return "\(v)"
    }
}

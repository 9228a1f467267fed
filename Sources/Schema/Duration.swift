import Foundation

/// How long, written `2ep` (epochs) or `500it` (optimizer steps).
public struct Duration: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Unit: String, Sendable { case epochs = "ep", steps = "it" }
    public var amount: Int
    public var unit: Unit

    public init(_ amount: Int, _ unit: Unit) {
        self.amount = amount
        self.unit = unit
    }

    public init(parsing s: String) throws {
        let t = s.trimmingCharacters(in: .whitespaces)
        for u in [Unit.epochs, .steps] where t.hasSuffix(u.rawValue) {
            if let n = Int(t.dropLast(u.rawValue.count)), n >= 0 {
                self.init(n, u)
                return
            }
        }
        throw ConfigError(
            path: "", "\"\(s)\" is not a duration: write a whole number and a unit, e.g. \"10ep\" (epochs) or \"500it\" (optimizer steps)")
    }

    /// Decodes `"2ep"` or `"500it"`; anything else (a number, a bare word) is a one-line error
    /// naming the key and showing both forms, with the number given when there is one.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let path = jsonPath(decoder.codingPath)
        guard let s = try? c.decode(String.self) else {
            let forms = #"a duration is a string such as "10ep" (epochs) or "500it" (optimizer steps)"#
            if let n = try? c.decode(Double.self) {
                let shown = n.rounded() == n && abs(n) < 1e15 ? "\(Int64(n))" : "\(n)"
                throw ConfigError(path: path, "\(forms); got the number \(shown): write \"\(shown)ep\" or \"\(shown)it\"")
            }
            throw ConfigError(path: path, c.decodeNil() ? "\(forms); got null" : "\(forms); got \(Self.kind(c))")
        }
        do { try self.init(parsing: s) } catch let e as ConfigError {
            throw ConfigError(path: path, e.message)
        }
    }

    /// What a non-string, non-number JSON value is: `true or false`, `a list`, `an object`.
    private static func kind(_ c: SingleValueDecodingContainer) -> String {
        if let b = try? c.decode(Bool.self) { return b ? "true" : "false" }
        if (try? c.decode([AnyDecodable].self)) != nil { return "a list" }
        return "an object"
    }

    /// Any JSON value (only to tell lists from objects).
    private struct AnyDecodable: Decodable {
        init(from decoder: Decoder) throws {}
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String { "\(amount)\(unit.rawValue)" }

    /// In optimizer steps, given the steps of one epoch.
    public func steps(perEpoch: Int) -> Int { unit == .steps ? amount : amount * perEpoch }
}

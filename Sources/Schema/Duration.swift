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
        throw ConfigError(path: "", "\"\(s)\" is not a duration; write e.g. \"2ep\" or \"500it\"")
    }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: s) } catch let e as ConfigError {
            throw ConfigError(path: jsonPath(decoder.codingPath), e.message)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String { "\(amount)\(unit.rawValue)" }

    /// In optimizer steps, given the steps of one epoch.
    public func steps(perEpoch: Int) -> Int { unit == .steps ? amount : amount * perEpoch }
}

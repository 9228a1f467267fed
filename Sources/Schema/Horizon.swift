/// How far ahead a trajectory criterion projects a weight: a fixed duration (`"200it"`,
/// `"1ep"`) or `"end"`, the end of the planned training (the steps left after the check).
public enum Horizon: Codable, Equatable, Sendable, CustomStringConvertible {
    case fixed(Duration)
    case endOfTraining

    public init(parsing s: String) throws {
        if s.trimmingCharacters(in: .whitespaces) == "end" {
            self = .endOfTraining
            return
        }
        do { self = .fixed(try Duration(parsing: s)) } catch {
            throw ConfigError(
                path: "", "\"\(s)\" is not a horizon; write \"end\" (end of training) or a duration such as \"200it\" or \"1ep\"")
        }
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

    public var description: String {
        switch self {
        case .fixed(let d): return d.description
        case .endOfTraining: return "end"
        }
    }

    /// In optimizer steps after step `t`: the fixed duration, or the `plannedSteps - t` left.
    public func steps(after t: Int, perEpoch: Int, plannedSteps: Int) -> Int {
        switch self {
        case .fixed(let d): return d.steps(perEpoch: perEpoch)
        case .endOfTraining: return max(0, plannedSteps - t)
        }
    }
}

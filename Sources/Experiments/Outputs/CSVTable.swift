import Foundation

/// A CSV table built in memory and written atomically (temporary name, then rename).
///
/// Header row first, `.` decimals, no thousands separators; fields with a comma, quote or
/// newline are quoted, so pandas `read_csv` and Python's `csv` module read it cleanly.
public struct CSVTable: Sendable {
    public let columns: [String]
    public private(set) var rows: [[String]] = []

    public init(columns: [String]) { self.columns = columns }

    /// A table from CSV text written by `text` (checkpoints); throws when the header differs.
    init(columns: [String], text: String) throws {
        let parsed = CSVReader.parse(text)
        guard parsed.first == columns else { throw RunError("checkpoint: table header \(parsed.first ?? []) is not \(columns)") }
        self.columns = columns
        rows = Array(parsed.dropFirst())
    }

    public mutating func append(_ values: [CSVValue]) {
        precondition(values.count == columns.count, "CSV row has \(values.count) values for \(columns.count) columns")
        rows.append(values.map(\.text))
    }

    public var text: String {
        var s = columns.map(CSVTable.escape).joined(separator: ",") + "\n"
        for r in rows { s += r.map(CSVTable.escape).joined(separator: ",") + "\n" }
        return s
    }

    static func escape(_ f: String) -> String {
        guard f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return f }
        return "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public func write(to url: URL) throws { try AtomicFile.write(Data(text.utf8), to: url) }
}

/// One CSV cell.
public enum CSVValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, CustomStringConvertible, Sendable, Equatable {
    public var description: String { text }
    case string(String)
    case int(Int)
    case double(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }

    var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            return "\(d)"
        }
    }
}

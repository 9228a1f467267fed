import Charts
import Experiments
import Foundation
import Sweeps

/// A CSV file read back for the report: header, rows, and typed column access.
///
/// Every row must have the header's field count; a file that cannot be read, is empty or has a
/// ragged row is a `RunError` naming the file and line.
struct ReportTable {
    let file: URL
    let header: [String]
    let rows: [[String]]

    /// Reads `url`; nil when the file does not exist.
    static func load(_ url: URL) throws -> ReportTable? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try ReportTable(url)
    }

    init(_ url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw RunError("\(url.path): cannot read") }
        let text = String(decoding: data, as: UTF8.self)
        let all = CSVReader.parse(text)
        guard let header = all.first, !header.isEmpty, header != [""] else { throw RunError("\(url.path): empty file (no header row)") }
        for (i, r) in all.enumerated() where r.count != header.count {
            throw RunError("\(url.path): line \(i + 1) has \(r.count) fields, the header \(header.count)")
        }
        file = url
        self.header = header
        rows = Array(all.dropFirst())
    }

    /// The index of `column`, or nil.
    func index(_ column: String) -> Int? { header.firstIndex(of: column) }

    /// Whether the file has every one of `columns`.
    func has(_ columns: String...) -> Bool { columns.allSatisfy { header.contains($0) } }

    /// `column` as numbers (NaN where a cell is not a number); throws when the column is missing.
    func numbers(_ column: String) throws -> [Double] {
        guard let i = index(column) else { throw RunError("\(file.path): no column \"\(column)\"") }
        return rows.map { Double($0[i]) ?? .nan }
    }

    /// `column` as text; throws when the column is missing.
    func strings(_ column: String) throws -> [String] {
        guard let i = index(column) else { throw RunError("\(file.path): no column \"\(column)\"") }
        return rows.map { $0[i] }
    }

    /// The rows whose `column` equals `value`, as a table of the same file.
    func filter(_ column: String, _ value: String) -> ReportTable {
        guard let i = index(column) else { return ReportTable(file: file, header: header, rows: []) }
        return ReportTable(file: file, header: header, rows: rows.filter { $0[i] == value })
    }

    private init(file: URL, header: [String], rows: [[String]]) {
        self.file = file
        self.header = header
        self.rows = rows
    }

    /// The first row as a column → value dictionary (summary.csv), or nil without rows.
    var firstRow: [String: String]? {
        rows.first.map { Dictionary(zip(header, $0), uniquingKeysWith: { a, _ in a }) }
    }
}

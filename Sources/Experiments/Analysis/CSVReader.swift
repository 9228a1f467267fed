import Foundation

/// Reads back the CSVs PruneLab writes (header row, quoted fields allowed).
public enum CSVReader {
    /// A minimal CSV reader for the files PruneLab writes (quoted fields allowed).
    public static func read(_ url: URL) throws -> [[String]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw RunError("\(url.path): cannot read (is this a run folder?)")
        }
        return parse(text)
    }

    /// Rows of CSV text, quoted fields allowed.
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = [], field = "", inQuotes = false
        var it = text.makeIterator()
        while let ch = it.next() {
            if inQuotes {
                if ch == "\"" {
                    if let n = it.next() {
                        if n == "\"" {
                            field.append("\"")
                        } else {
                            inQuotes = false
                            if n == "," {
                                row.append(field); field = ""
                            } else if n == "\n" {
                                row.append(field); rows.append(row); row = []; field = ""
                            } else {
                                field.append(n)
                            }
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(ch)
                }
            } else if ch == "\"" {
                inQuotes = true
            } else if ch == "," {
                row.append(field); field = ""
            } else if ch == "\n" {
                row.append(field); rows.append(row); row = []; field = ""
            } else {
                field.append(ch)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

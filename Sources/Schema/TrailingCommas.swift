import Foundation

/// Finds a comma that closes a JSON object or list (`{"a": 1,}`, `[1, 2,]`).
///
/// JSON has no trailing commas, but Foundation's `JSONSerialization` (and so `JSONDecoder`)
/// on Linux accepts them without a word; a config edited by hand should get the same answer
/// from PruneLab as from Python's `json` or `jq`. Like `DuplicateKeys`, a scan of the raw bytes
/// after `JSONSerialization` accepted them: it only tracks strings.
public enum TrailingCommas {
    /// Where the first trailing comma is: its 1-based line and column, and what it closes.
    public struct Found: Equatable, Sendable {
        public var line: Int
        public var column: Int
        /// `}` or `]`.
        public var closes: Character

        /// "a comma before } at line 3, column 12: JSON allows no trailing comma".
        public var message: String {
            "invalid JSON: a comma before \(closes) at line \(line), column \(column); JSON allows no trailing comma"
        }
    }

    /// The first comma followed (after white space) by `}` or `]`, or nil.
    public static func first(in bytes: Data) -> Found? {
        let b = [UInt8](bytes)
        var i = 0, line = 1, lineStart = 0
        var comma: (line: Int, column: Int)?
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\""):
                comma = nil
                i += 1
                while i < b.count && b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
            case UInt8(ascii: ","):
                comma = (line, i - lineStart + 1)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let c = comma { return Found(line: c.line, column: c.column, closes: Character(UnicodeScalar(b[i]))) }
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = i + 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                break
            default:
                comma = nil
            }
            i += 1
        }
        return nil
    }
}

import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Writes files so that a reader never sees a half-written one: everything goes to a hidden
/// temporary name in the same folder and is renamed over the final name (rename(2) is atomic
/// on one file system; Foundation's replaceItemAt is not on Linux). The one mechanism behind
/// CSVs, JSON, HDF5 model files and the streamed trajectory files.
public enum AtomicFile {
    /// The temporary name for `url`: `.<name>.tmp-<pid>` beside it.
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    }

    /// Lets `body` write the file at a temporary path, then renames it to `url`. On any error
    /// the temporary file is removed and `url` is untouched.
    public static func write(to url: URL, _ body: (String) throws -> Void) throws {
        let tmp = temporaryURL(for: url)
        try? FileManager.default.removeItem(at: tmp)
        do {
            try body(tmp.path)
            try commit(tmp, to: url)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { path in
            do { try data.write(to: URL(fileURLWithPath: path)) } catch {
                throw RunError("\(url.path): cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// Renames a finished temporary (or partial) file to its final name.
    public static func commit(_ tmp: URL, to url: URL) throws {
        guard rename(tmp.path, url.path) == 0 else {
            throw RunError("\(url.path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

/// A run-level failure with a one-line message.
public struct RunError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}

import Foundation

/// Paths as a page shows them: relative to the folder the page is written to, so a page that
/// travels with its folders (committed, copied, mailed) names no machine's absolute paths.
enum RelativePath {
    /// `target` relative to the folder `base` (`.` for the folder itself, `..` steps up as needed).
    static func of(_ target: URL, from base: URL) -> String {
        let t = target.standardizedFileURL.pathComponents, b = base.standardizedFileURL.pathComponents
        var common = 0
        while common < min(t.count, b.count) && t[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: b.count - common) + t[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}

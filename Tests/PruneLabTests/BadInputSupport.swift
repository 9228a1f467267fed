import Testing
import Foundation

/// A fresh temporary folder for `body`, removed afterwards (tests run in parallel).
func withScratchFolder<R>(_ label: String = "bad-input", _ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-\(label)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// The description of the error `body` throws, recording an issue when it throws nothing.
func thrownMessage(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    do {
        try body()
        Issue.record("expected an error, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        return "\(error)"
    }
}

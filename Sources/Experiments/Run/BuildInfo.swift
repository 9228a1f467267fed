import Foundation

/// Where this build of PruneLab came from, for run.json.
public enum BuildInfo {
    /// The git commit of the checkout PruneLab was built from (12 hex digits), or "unknown".
    ///
    /// It used to be `git rev-parse HEAD` in the working directory, i.e. the commit of whatever
    /// repository the user stood in. A pure `swift build` has no pre-build script step to
    /// write the commit into a source file, and a build-tool plugin running git on every build
    /// is slow and needs sandbox exceptions; so the commit is read at run time from the
    /// checkout this file was compiled in: `#filePath` is its absolute path at build time, four
    /// folders below the package root. Caveat: if that checkout has moved on since the build,
    /// this reports its current commit; if it is gone (a copied binary), "unknown".
    public static let gitCommit: String = {
        let root = URL(fileURLWithPath: #filePath)  // <root>/Sources/Experiments/Run/BuildInfo.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) else { return "unknown" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", root.path, "rev-parse", "--short=12", "HEAD"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "unknown" }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? s : "unknown"
    }()
}

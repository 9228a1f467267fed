import Foundation
import TensorCore

/// The run folder contract: `config.json`, `run.json`, `metrics.csv`, `summary.csv`,
/// `layers.csv` and whatever artifacts a method adds; every file written atomically.
public struct RunFolder {
    public let url: URL

    public init(path: String) { url = URL(fileURLWithPath: path, isDirectory: true) }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Creates the folder; refuses to overwrite a finished run unless `force`.
    public func prepare(force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RunError("\(url.path): exists and is not a folder") }
            if !force, let status = try? RunInfo.read(from: file("run.json")).status, status == .completed {
                throw RunError("\(url.path): holds a finished run; pass --force to overwrite it")
            }
            // A stale or failed run: clear the contract's files so nothing old looks current.
            for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] {
                try? fm.removeItem(at: file(name))
            }
        }
        do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw RunError("\(url.path): cannot create the run folder: \(error.localizedDescription)")
        }
    }

    public func write(_ data: Data, to name: String) throws { try AtomicFile.write(data, to: file(name)) }
}

/// Where a run stands, as `run.json` says.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, completed, failed
}

/// `run.json`: what ran, where and how it ended.
public struct RunInfo: Codable, Sendable {
    public var version: String
    public var gitCommit: String
    public var command: String
    public var seed: UInt64
    public var threads: Int
    public var blasCore: String
    public var started: String
    public var ended: String?
    public var status: RunStatus
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case version, gitCommit = "git_commit", command, seed, threads, blasCore = "blas_core"
        case started, ended, status, error
    }

    public static let toolVersion = "0.1.0"

    static func read(from url: URL) throws -> RunInfo {
        try JSONDecoder().decode(RunInfo.self, from: Data(contentsOf: url))
    }

    func write(to folder: RunFolder) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try folder.write(try enc.encode(self), to: "run.json")
    }

    static func timestamp(_ d: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }

    /// The commit of the working directory's git checkout, or "unknown".
    static func currentGitCommit() -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "rev-parse", "--short=12", "HEAD"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "unknown" }
        p.waitUntilExit()
        let s = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? s : "unknown"
    }
}

import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import TensorCore

/// The run folder contract: `config.json`, `run.json`, `metrics.csv`, `summary.csv`,
/// `layers.csv` and whatever artifacts a method adds; every file written atomically.
///
/// **Never deletes what PruneLab did not write.** Every file the run writes goes through
/// `file(_:)`, which records its name in the folder's manifest (`.prunelab-manifest`, one
/// name per line, rewritten atomically when a name is added). `open` refuses a non-empty
/// folder that is not a PruneLab run folder (no `run.json`, no manifest), with or without
/// `force`; `force` (or reusing a failed or interrupted run's folder) removes only the names
/// in the previous run's manifest, and their temporary siblings. A run folder of a version
/// that kept no manifest has its contract files removed, nothing else.
///
/// **One writer.** `open` takes an exclusive advisory lock (`flock`) on `.prunelab.lock`
/// holding the writer's pid, for the life of this object (the process, in practice); a second
/// writer fails at once naming the holder's pid. A lock left by a killed process does not
/// block: the kernel drops `flock` locks with their process.
public final class RunFolder: @unchecked Sendable {
    // @unchecked: a RunFolder is used by the one thread that runs the experiment; the lock
    // descriptor and the manifest are never touched concurrently.
    public let url: URL
    private var lockFD: Int32 = -1
    private var manifest: [String] = []

    public static let manifestName = ".prunelab-manifest"
    public static let lockName = ".prunelab.lock"
    /// What runs of versions without a manifest wrote (their folders are still cleaned on `--force`).
    static let legacyContract = [
        "config.json", "run.json", "metrics.csv", "summary.csv", "layers.csv", "rounds.csv", "prune-curve.csv",
        "events.csv", "trajectories.csv", "layer-trajectories.csv", "model.h5", "model-sparse.h5",
        "model-compact.h5", "layers-compact.csv",
    ]

    public init(path: String) { url = URL(fileURLWithPath: path, isDirectory: true) }

    deinit { release() }

    /// Drops the lock (the run is over); later writes are still allowed but no longer recorded.
    public func release() {
        if lockFD >= 0 { close(lockFD) }
        lockFD = -1
    }

    /// The URL of `name` in the folder, recorded in the manifest.
    public func file(_ name: String) -> URL {
        if lockFD >= 0 && !manifest.contains(name) {
            manifest.append(name)
            try? AtomicFile.write(Data((manifest.joined(separator: "\n") + "\n").utf8), to: url.appendingPathComponent(Self.manifestName))
        }
        return url.appendingPathComponent(name)
    }

    public func write(_ data: Data, to name: String) throws { try AtomicFile.write(data, to: file(name)) }

    /// The URL of `name` for a command adding to the folder (after `openToAdd` or `open`),
    /// recorded in the manifest like `file(_:)`; a one-line error, the file untouched, when a
    /// file of that name exists that the manifest does not list (PruneLab did not write it).
    public func claim(_ name: String) throws -> URL {
        let target = url.appendingPathComponent(name)
        if !manifest.contains(name) && OutputFolder.exists(target) {
            throw RunFolderError.foreignFile(path: target.path, list: Self.manifestName)
        }
        return file(name)
    }

    /// Prepares the folder for a fresh run: creates it, takes the lock, and clears a previous
    /// run's files (only a finished run needs `force`).
    public func open(force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RunFolderError.notAFolder(path: url.path) }
            let entries = try contents()
            if !entries.isEmpty && !isRunFolder(entries) {
                let shown = entries.sorted().prefix(3).joined(separator: ", ")
                throw RunFolderError.notEmpty(path: url.path, shown: shown + (entries.count > 3 ? ", …" : ""))
            }
            try lock()
            if !force, let info = try? RunInfo.read(from: url.appendingPathComponent("run.json")), info.status == .completed {
                throw RunFolderError.holdsFinishedRun(path: url.path)
            }
            try removePreviousFiles()
        } else {
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw RunError("\(url.path): cannot create the run folder: \(error.localizedDescription)")
            }
            try lock()
        }
        manifest = []
        _ = file("run.json")
    }

    /// The `config.json` of the run folder `run`, for commands that read a finished run
    /// (`export`, `quantize`); one-line errors for a missing folder and a folder that is not a run.
    public static func configFile(ofRun run: URL) throws -> URL {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run.path, isDirectory: &isDir), isDir.boolValue else {
            throw RunError("\(run.path): no such run folder")
        }
        let configURL = run.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw RunError("\(run.path): not a PruneLab run folder (no config.json)")
        }
        return configURL
    }

    /// Takes the folder of an interrupted or failed run to continue it.
    public func openForResume() throws {
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("run.json").path) else {
            throw RunFolderError.notARunFolder(path: url.path)
        }
        try lock()
        manifest = try readManifest() ?? []
        // a process killed mid-write leaves its temporary file; the final name is intact
        for e in try contents() where e.hasPrefix(".") && e.contains(".tmp") && manifest.contains(where: { e.hasPrefix(".\($0).tmp") }) {
            try? FileManager.default.removeItem(at: url.appendingPathComponent(e))
        }
    }

    /// Takes a finished run's folder to add files to it (`prunelab quantize`): the lock, and the
    /// manifest the new names join, so that `--force` later removes them too.
    public func openToAdd() throws {
        try lock()
        let existing = Set(try contents())
        manifest = try readManifest() ?? Self.legacyContract.filter(existing.contains)
    }

    /// Whether a live process holds the folder's lock (without taking it).
    public func isHeldByLiveProcess() -> Bool {
        let fd = Glibc.open(url.appendingPathComponent(Self.lockName).path, O_RDWR)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    func contents() throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: url.path) } catch {
            throw RunError("\(url.path): cannot list: \(error.localizedDescription)")
        }
    }

    func isRunFolder(_ entries: [String]) -> Bool {
        entries.contains(Self.manifestName) || entries.contains("run.json")
    }

    /// The manifest's names: files of the folder, or of one of its subfolders (`tb/x`); a name
    /// that would leave the folder (`..`, an absolute path, deeper paths) is ignored.
    func readManifest() throws -> [String]? {
        let u = url.appendingPathComponent(Self.manifestName)
        guard let text = try? String(contentsOf: u, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").map(String.init).filter { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count <= 2 && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
        }
    }

    /// Removes the previous run's files: its manifest's names (or the legacy contract) and
    /// their temporary and partial siblings; nothing else.
    func removePreviousFiles() throws {
        let names = try readManifest() ?? Self.legacyContract
        let fm = FileManager.default
        let entries = Set(try contents())
        // files in subfolders (`tb/...`): the file, then its folder if that left it empty
        for name in names where name.contains("/") {
            let file = url.appendingPathComponent(name)
            try? fm.removeItem(at: file)
            let parent = file.deletingLastPathComponent()
            if (try? fm.contentsOfDirectory(atPath: parent.path))?.isEmpty == true { try? fm.removeItem(at: parent) }
        }
        for name in names {
            for e in entries where e == name || e.hasPrefix(".\(name).tmp-") || e == ".\(name).partial" || e == ".\(name).tmp" {
                try? fm.removeItem(at: url.appendingPathComponent(e))
            }
        }
        try? fm.removeItem(at: url.appendingPathComponent(Self.manifestName))
    }

    /// Takes the exclusive lock or fails naming the holder.
    func lock() throws {
        guard lockFD < 0 else { return }
        let path = url.appendingPathComponent(Self.lockName).path
        let fd = Glibc.open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw RunError("\(path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = read(fd, &buffer, 31)
            close(fd)
            let pid = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RunFolderError.inUse(path: url.path, pid: pid.isEmpty ? "unknown" : pid)
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFD = fd
    }
}

/// Where a run stands, as `run.json` says.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, completed, failed, interrupted
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
    /// The writer's process id while `running`.
    public var pid: Int32?
    /// The last completed optimizer step of an interrupted run.
    public var step: Int?
    /// Times the run was resumed.
    public var resumed: Int?

    enum CodingKeys: String, CodingKey {
        case version, gitCommit = "git_commit", command, seed, threads, blasCore = "blas_core"
        case started, ended, status, error, pid, step, resumed
    }

    public static let toolVersion = "0.2.0"

    public static func read(from url: URL) throws -> RunInfo {
        do { return try JSONDecoder().decode(RunInfo.self, from: Data(contentsOf: url)) } catch {
            throw RunError("\(url.path): not a readable run.json (\(error.localizedDescription))")
        }
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
}

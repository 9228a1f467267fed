import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A folder a command writes into without having created it (`report` into a run, compare or
/// sweep folder or beside an `--out` path, `aggregate`, `compare`, `quantize`, `predict`,
/// `trajectories --out`): it replaces only files PruneLab wrote and refuses any other file of
/// the same name with a one-line error, leaving it untouched.
///
/// **Which files PruneLab wrote.** In a run folder (it holds `run.json` or `.prunelab-manifest`),
/// the names in the run's manifest (`RunFolder.openToAdd`, which also takes the folder's lock);
/// every name claimed here joins it, so `--force` later removes that file too. In any other
/// folder, the names in `.prunelab-files` (one per line, rewritten atomically as names join;
/// not a manifest, so the folder never passes for a run folder); in a sweep folder without that
/// list (written by a version that kept none), the files sweeps write (`SweepFiles.own`).
public final class OutputFolder {
    public static let listName = ".prunelab-files"

    public let url: URL
    private let run: RunFolder?
    private var names: [String] = []

    /// Takes `dir`, which must exist, for adding files.
    public init(_ dir: URL) throws {
        url = dir
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw RunError("\(dir.path): no such folder")
        }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw RunError("\(dir.path): cannot list: \(error.localizedDescription)")
        }
        if entries.contains(RunFolder.manifestName) || entries.contains("run.json") {
            let folder = RunFolder(path: dir.path)
            try folder.openToAdd()
            run = folder
            return
        }
        run = nil
        let list = dir.appendingPathComponent(Self.listName)
        if let text = try? String(contentsOf: list, encoding: .utf8) {
            names = text.split(separator: "\n").map(String.init)
        } else if entries.contains(SweepFiles.plan) {
            names = SweepFiles.own.filter(entries.contains).sorted()
        }
    }

    /// Takes the folder that holds `file`.
    public convenience init(holding file: URL) throws {
        try self.init(file.deletingLastPathComponent())
    }

    deinit { release() }

    /// Drops the run folder's lock (when the folder is a run folder).
    public func release() { run?.release() }

    /// The URL to write `name` (a file name, no `/`) to: recorded as PruneLab's, or a one-line
    /// error when a file of that name exists that PruneLab did not write.
    public func claim(_ name: String) throws -> URL {
        if let run { return try run.claim(name) }
        let target = url.appendingPathComponent(name)
        if !names.contains(name) && Self.exists(target) {
            throw RunFolderError.foreignFile(path: target.path, list: Self.listName)
        }
        if !names.contains(name) {
            names.append(name)
            let data = Data((names.joined(separator: "\n") + "\n").utf8)
            do { try AtomicFile.write(data, to: url.appendingPathComponent(Self.listName)) } catch {
                throw RunError("\(url.appendingPathComponent(Self.listName).path): cannot record \(name): \(error)")
            }
        }
        return target
    }

    /// Writes `data` to `file` atomically, through the `OutputFolder` of its folder.
    public static func write(_ data: Data, to file: URL) throws {
        let folder = try OutputFolder(holding: file)
        defer { folder.release() }
        try AtomicFile.write(data, to: try folder.claim(file.lastPathComponent))
    }

    /// Whether anything (a file, a folder, a link, even a dangling one) has that path.
    static func exists(_ url: URL) -> Bool {
        var st = stat()
        return lstat(url.path, &st) == 0
    }
}

import Dispatch
import Foundation
import Schema
import Synchronization
import TensorCore
import HDF5Support

/// `checkpoint`: how often a run saves everything it needs to continue after an interruption.
public struct CheckpointConfig: ConfigSection {
    public var enabled: Bool
    public var every: Duration

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, every }

    public static let keyHelp: [(key: String, help: String)] = [
        ("enabled", "write `checkpoint.h5` so that `prunelab run --resume DIR` can continue the run"),
        ("every", "at the first epoch end at least this long after the previous checkpoint, and at every Han round boundary"),
    ]

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.value(.enabled, default: true)
        every = try c.value(.every, default: Duration(1, .epochs))
    }

    public func validate(at path: String) throws {
        if every.amount <= 0 { throw ConfigError(path: child(path, "every"), "must be positive, got \(every)") }
    }
}

/// `checkpoint.h5`: a `StateArchive` as HDF5 datasets `f/<key>` (float32), `d/<key>`
/// (float64) and `i/<key>` (int64), with the list of keys in `keys`; written atomically, so a
/// kill during the write leaves the previous checkpoint whole.
enum CheckpointFile {
    static let name = "checkpoint.h5"

    static func write(_ archive: StateArchive, to url: URL) throws {
        try AtomicFile.write(to: url) { path in
            let file = try HDF5File(creating: path)
            var keys: [String] = []
            for (k, v) in archive.floats.sorted(by: { $0.key < $1.key }) {
                try file.writeDataset("f/\(k)", shape: [v.count], values: v)
                keys.append("f/\(k)")
            }
            for (k, v) in archive.doubles.sorted(by: { $0.key < $1.key }) {
                try file.writeDataset("d/\(k)", shape: [v.count], values: v)
                keys.append("d/\(k)")
            }
            for (k, v) in archive.ints.sorted(by: { $0.key < $1.key }) {
                try file.writeDataset("i/\(k)", shape: [v.count], values: v)
                keys.append("i/\(k)")
            }
            let index = Array(keys.joined(separator: "\n").utf8)
            try file.writeDataset("keys", shape: [index.count], values: index)
            try file.close()
        }
    }

    static func read(_ url: URL) throws -> StateArchive {
        let file = try HDF5File(path: url.path)
        let index = String(decoding: try file.read("keys", as: UInt8.self).values, as: UTF8.self)
        var floats: [String: [Float]] = [:], doubles: [String: [Double]] = [:], ints: [String: [Int64]] = [:]
        for key in index.split(separator: "\n").map(String.init) {
            let bare = String(key.dropFirst(2))
            switch key.prefix(2) {
            case "f/": floats[bare] = try file.readFloats(key).values
            case "d/": doubles[bare] = try file.readDoubles(key).values
            case "i/": ints[bare] = try file.readInt64s(key).values
            default: throw RunError("\(url.path): unknown checkpoint entry \(key)")
            }
        }
        return StateArchive(floats: floats, doubles: doubles, ints: ints)
    }
}

/// Writes checkpoints on a background thread, one at a time, so that training does not wait for
/// the file: a `linear` LeNet-300-100 checkpoint (weights, momentum, the trajectory statistics'
/// 44 bytes per weight) took ~50 ms of every epoch end on the training thread, 4% of the run.
/// The archive handed over is a snapshot: its arrays are copy-on-write copies that training's
/// next update to the originals separates from them (so that update pays one copy of each array
/// it writes, a few ms against the ~50 ms write, and the process holds the copy until the write
/// ends). `checkpoint_seconds` counts what the training thread waits for: the snapshot and any
/// previous write still running. Safety as before: each file is written atomically, so a kill
/// mid-write leaves the previous checkpoint whole.
final class CheckpointWriter: Sendable {
    private let queue = DispatchQueue(label: "prunelab.checkpoint")
    private let inFlight = DispatchGroup()
    private let failure = Mutex<String?>(nil)

    /// Waits for the previous write (so at most one is in flight and files land in order), then
    /// starts writing `archive` to `url`. Throws the previous write's error, if it failed.
    func submit(_ archive: StateArchive, to url: URL) throws {
        try wait()
        // Handed to the writer thread: nothing touches this archive after `submit` (each
        // checkpoint builds its own), and its arrays are value copies of the training state.
        let snapshot = Snapshot(archive: archive)
        inFlight.enter()
        queue.async { [self] in
            defer { inFlight.leave() }
            do { try CheckpointFile.write(snapshot.archive, to: url) } catch {
                failure.withLock { $0 = $0 ?? "\(error)" }
            }
        }
    }

    /// Blocks until no write is in flight; throws the first write error seen.
    func wait() throws {
        inFlight.wait()
        if let message = failure.withLock({ $0 }) { throw RunError(message) }
    }
}

/// The archive crossing to the writer thread (see `CheckpointWriter.submit` for why it is safe).
private struct Snapshot: @unchecked Sendable {
    let archive: StateArchive
}

import Foundation

/// A CSV streamed to a hidden partial file (`.<name>.partial`) in 64 KiB writes and renamed to
/// its final name by `commit()` (through `AtomicFile.commit`), so a killed run never leaves a
/// complete-looking file; `abandon()` removes the partial file.
///
/// **Resuming.** What a run resumed from a checkpoint does with the file follows the file's
/// `State` on disk: finished (the final file is there: an earlier process committed it) ▶ left
/// as it is, every later write ignored; partial ▶ continued at the byte the checkpoint flushed
/// (cut back to it). A run that starts again without a checkpoint writes a new partial file
/// (`fresh`). The final file is never removed: a new partial file replaces it only by
/// `commit()`'s rename.
final class StreamedFile {
    static let flushBytes = 1 << 16

    /// Where a streamed file stands in its folder.
    enum State: Equatable {
        /// Neither the final nor the partial file exists.
        case absent
        /// The partial file exists (`size` bytes) and the final one does not: the writer
        /// stopped before `commit()`.
        case partial(size: UInt64)
        /// The final file exists (`size` bytes): `commit()` ran.
        case finished(size: UInt64)
    }

    /// How the file is opened.
    enum Start: Equatable {
        /// A run from its first step (new, or resumed without a checkpoint): a new partial file
        /// with the header.
        case fresh
        /// A run resumed from a checkpoint that had flushed `checkpointSize` bytes of the file.
        case resume(checkpointSize: UInt64)
    }

    let partial: URL
    let final: URL
    /// The open partial file; nil when the file was finished before this process (left as it is).
    let handle: FileHandle?
    var buffer: [UInt8] = []
    private var open: Bool
    /// Whether the final file is written (by `commit()`, or by an earlier process of the run).
    private(set) var isFinished: Bool

    /// The state of `name` in `folder` on disk.
    static func state(of name: String, in folder: URL) -> State {
        let size = { (u: URL) -> UInt64? in
            (try? FileManager.default.attributesOfItem(atPath: u.path)[.size] as? NSNumber)?.map { $0.uint64Value }
        }
        if let s = size(folder.appendingPathComponent(name)) { return .finished(size: s) }
        if let s = size(folder.appendingPathComponent(".\(name).partial")) { return .partial(size: s) }
        return .absent
    }

    /// Opens `name` in `folder` as `start` and the file's state on disk say (see the type's
    /// comment). Throws a one-line `RunError` naming the file when a resumed file is missing or
    /// shorter than the checkpoint recorded.
    init(folder: RunFolder, name: String, header: [String], start: Start = .fresh) throws {
        final = folder.file(name)
        partial = folder.file(".\(name).partial")
        let fm = FileManager.default
        var resumeAt: UInt64?
        if case .resume(let checkpointSize) = start {
            switch Self.state(of: name, in: folder.url) {
            case .finished(let size):
                if size < checkpointSize {
                    throw RunError(
                        "\(final.path): holds \(size) bytes, fewer than the \(checkpointSize) the checkpoint recorded; "
                            + "the run cannot be resumed, rerun it with --force")
                }
                // the earlier process finished it; a partial file beside it is a leftover
                try? fm.removeItem(at: partial)
                handle = nil
                open = false
                isFinished = true
                return
            case .partial(let size):
                if size < checkpointSize {
                    throw RunError(
                        "\(partial.path): holds \(size) bytes, fewer than the \(checkpointSize) the checkpoint recorded; "
                            + "the run cannot be resumed, rerun it with --force")
                }
                resumeAt = checkpointSize
            case .absent:
                throw RunError(
                    "\(folder.url.path): neither \(name) nor .\(name).partial is there (the checkpoint recorded "
                        + "\(checkpointSize) bytes of it); the run cannot be resumed, rerun it with --force")
            }
        }
        if resumeAt == nil {
            guard fm.createFile(atPath: partial.path, contents: nil) else {
                throw RunError("\(partial.path): cannot create (does the run folder exist?)")
            }
        }
        let h: FileHandle
        do { h = try FileHandle(forWritingTo: partial) } catch {
            throw RunError("\(partial.path): cannot open for writing: \(error.localizedDescription)")
        }
        handle = h
        open = true
        isFinished = false
        buffer.reserveCapacity(StreamedFile.flushBytes + 4096)
        if let size = resumeAt {
            do {
                try h.truncate(atOffset: size)
                try h.seekToEnd()
            } catch {
                close()
                throw RunError("\(partial.path): cannot resume at byte \(size): \(error.localizedDescription)")
            }
        } else {
            append(header.map(CSVTable.escape).joined(separator: ",") + "\n")
        }
    }

    /// Bytes on disk after a flush (what a checkpoint records); a finished file's size.
    func flushedSize() throws -> UInt64 {
        guard let handle, open else {
            if case .finished(let size) = Self.state(of: final.lastPathComponent, in: final.deletingLastPathComponent()) {
                return size
            }
            throw RunError("\(final.path): closed before it was finished")
        }
        try flush()
        return try handle.offset()
    }

    /// Buffers `s` (ignored once the file is finished).
    func append(_ s: String) {
        guard open else { return }
        buffer.append(contentsOf: s.utf8)
    }

    func flush() throws {
        guard let handle, open, !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch {
            throw RunError("\(partial.path): cannot write: \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func flushIfFull() throws {
        if buffer.count >= StreamedFile.flushBytes { try flush() }
    }

    /// Flushes, closes and renames the partial file to its final name (nothing when the file
    /// is finished already).
    func commit() throws {
        guard !isFinished else { return }
        try flush()
        close()
        try AtomicFile.commit(partial, to: final)
        isFinished = true
    }

    /// Closes and removes the partial file (a finished file stays).
    func abandon() {
        guard !isFinished else { return }
        close()
        try? FileManager.default.removeItem(at: partial)
    }

    /// Closes the handle once (a second close could hit a reused descriptor).
    func close() {
        guard open else { return }
        open = false
        try? handle?.close()
    }

    deinit { close() }
}

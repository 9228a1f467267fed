import Foundation

/// A CSV streamed to a hidden partial file (`.<name>.partial`) in 64 KiB writes and renamed to
/// its final name by `commit()` (through `AtomicFile.commit`), so a killed run never leaves a
/// complete-looking file; `abandon()` removes the partial file.
final class StreamedFile {
    static let flushBytes = 1 << 16
    let partial: URL
    let final: URL
    let handle: FileHandle
    var buffer: [UInt8] = []
    private var open = true

    /// A new partial file with `header`, or with `resumeAt`, the partial file a checkpoint
    /// left, cut back to the `resumeAt` bytes that the checkpoint had flushed.
    init(folder: RunFolder, name: String, header: [String], resumeAt: UInt64? = nil) throws {
        final = folder.file(name)
        partial = folder.file(".\(name).partial")
        let fm = FileManager.default
        try? fm.removeItem(at: final)
        if resumeAt == nil {
            guard fm.createFile(atPath: partial.path, contents: nil) else {
                throw RunError("\(partial.path): cannot create (does the run folder exist?)")
            }
        }
        do { handle = try FileHandle(forWritingTo: partial) } catch {
            throw RunError("\(partial.path): cannot open for writing: \(error.localizedDescription)")
        }
        buffer.reserveCapacity(StreamedFile.flushBytes + 4096)
        if let size = resumeAt {
            do {
                try handle.truncate(atOffset: size)
                try handle.seekToEnd()
            } catch {
                throw RunError("\(partial.path): cannot resume at byte \(size): \(error.localizedDescription)")
            }
        } else {
            append(header.map(CSVTable.escape).joined(separator: ",") + "\n")
        }
    }

    /// Bytes on disk after a flush (what a checkpoint records).
    func flushedSize() throws -> UInt64 {
        try flush()
        return try handle.offset()
    }

    func append(_ s: String) { buffer.append(contentsOf: s.utf8) }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch {
            throw RunError("\(partial.path): cannot write: \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func flushIfFull() throws {
        if buffer.count >= StreamedFile.flushBytes { try flush() }
    }

    /// Flushes, closes and renames the partial file to its final name.
    func commit() throws {
        try flush()
        close()
        try AtomicFile.commit(partial, to: final)
    }

    func abandon() {
        close()
        try? FileManager.default.removeItem(at: partial)
    }

    /// Closes the handle once (a second close could hit a reused descriptor).
    func close() {
        guard open else { return }
        open = false
        try? handle.close()
    }

    deinit { close() }
}

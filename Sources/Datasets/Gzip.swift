import CZlib
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads files whole, inflating gzip content through zlib.
///
/// Gzip is recognised by its magic bytes `0x1f 0x8b`, never by the file name; anything else is
/// returned as stored. Concatenated gzip members (as `cat a.gz b.gz` makes) inflate to the
/// concatenation of their contents. Failures are `DatasetError`s naming the file: missing file
/// ("no such file"), unreadable file, corrupt or truncated gzip stream, bytes after the last member
/// that are not another gzip member.
public enum Gzip {
    /// The two bytes every gzip member starts with.
    public static let magic: (UInt8, UInt8) = (0x1f, 0x8b)

    /// The contents of the file at `path`, inflated when it starts with the gzip magic.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let bytes = try readRaw(path)
        return isGzip(bytes) ? try inflate(bytes, file: path) : bytes
    }

    /// Whether `bytes` starts with the gzip magic `0x1f 0x8b`.
    public static func isGzip<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        var it = bytes.makeIterator()
        return it.next() == magic.0 && it.next() == magic.1
    }

    /// The stored bytes of the file at `path`, read in one pass into an array of the file's size.
    public static func readRaw(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let code = errno
            throw DatasetError(file: path, code == ENOENT ? "no such file" : "cannot open: \(errorText(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DatasetError(file: path, "cannot stat: \(errorText(errno))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw DatasetError(file: path, "not a regular file") }
        let size = Int(info.st_size)
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = read(fd, buffer.baseAddress! + initialized, size - initialized)
                if n > 0 {
                    initialized += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    if n < 0 { failure = errno }
                    break  // 0: the file shrank while being read
                }
            }
        }
        guard failure == 0 else { throw DatasetError(file: path, "read failed: \(errorText(failure))") }
        guard bytes.count == size else {
            throw DatasetError(file: path, "file shrank while being read: got \(bytes.count) of \(size) bytes")
        }
        // A file that grew while being read: take the rest too.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw DatasetError(file: path, "read failed: \(errorText(errno))") }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// The inflated contents of the gzip data `bytes`; `file` names the source in errors.
    ///
    /// The output is sized from the last member's ISIZE trailer (the uncompressed length mod 2^32)
    /// and grows by doubling when that hint is short. A stream that ends before its trailer is
    /// "truncated"; a bad header, block or CRC is "corrupt".
    public static func inflate(_ bytes: [UInt8], file: String) throws -> [UInt8] {
        guard isGzip(bytes) else { throw DatasetError(file: file, "not gzip data (no 0x1f 0x8b magic)") }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)  // zlib keeps its address
        stream.initialize(to: z_stream())
        defer { stream.deinitialize(count: 1); stream.deallocate() }
        // windowBits 15 + 32: 32 KiB window, zlib or gzip header detected automatically.
        let initStatus = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DatasetError(file: file, "zlib inflateInit2 failed (\(zlibMessage(stream, initStatus)))")
        }
        defer { inflateEnd(stream) }

        var out = [UInt8](repeating: 0, count: sizeHint(bytes))
        var produced = 0
        var consumed = 0
        try bytes.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress else { return }
            while true {
                if stream.pointee.avail_in == 0 {
                    let take = min(input.count - consumed, Int(UInt32.max))
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: inBase + consumed)
                    stream.pointee.avail_in = UInt32(take)
                    consumed += take
                }
                if produced == out.count {
                    out.append(contentsOf: repeatElement(0, count: max(out.count, 1 << 16)))
                }
                let status: Int32 = out.withUnsafeMutableBufferPointer { output in
                    let room = min(output.count - produced, Int(UInt32.max))
                    stream.pointee.next_out = output.baseAddress! + produced
                    stream.pointee.avail_out = UInt32(room)
                    let status = CZlib.inflate(stream, Z_NO_FLUSH)
                    produced += room - Int(stream.pointee.avail_out)
                    return status
                }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let left = Int(stream.pointee.avail_in) + (input.count - consumed)
                    if left == 0 { return }
                    let next = input.count - left
                    guard isGzip(input[next...]) else {
                        throw DatasetError(
                            file: file,
                            "\(left) bytes after the end of the gzip stream are not another gzip member")
                    }
                    inflateReset(stream)
                case Z_BUF_ERROR where stream.pointee.avail_in == 0 && consumed == input.count:
                    // There was room for output, so zlib stopped for want of input.
                    throw DatasetError(
                        file: file,
                        "truncated gzip stream: input ended after \(input.count) compressed "
                            + "bytes (\(produced) inflated) before the end of the data")
                case Z_DATA_ERROR, Z_NEED_DICT:
                    let at = consumed - Int(stream.pointee.avail_in)
                    throw DatasetError(
                        file: file,
                        "corrupt gzip data near compressed byte \(at): \(zlibMessage(stream, status))")
                default:
                    throw DatasetError(file: file, "zlib inflate failed: \(zlibMessage(stream, status))")
                }
            }
        }
        out.removeSubrange(produced...)
        return out
    }

    /// Output capacity to start with: the ISIZE trailer when plausible, else 4x the input.
    private static func sizeHint(_ bytes: [UInt8]) -> Int {
        let fallback = max(1 << 16, bytes.count * 4)
        guard bytes.count >= 18 else { return fallback }
        let n = bytes.count
        let isize = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
        // Deflate expands at most ~1032:1; a larger ISIZE is garbage (or a truncated file).
        return isize > 0 && isize <= bytes.count * 1032 ? isize : fallback
    }

    private static func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>, _ status: Int32) -> String {
        if let msg = stream.pointee.msg { return String(cString: msg) + " (zlib status \(status))" }
        return "zlib status \(status)"
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

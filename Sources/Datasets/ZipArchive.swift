import CZlib

/// The members of a zip archive held in memory, as `numpy.savez` and `numpy.savez_compressed`
/// write them (stored or deflated members, ZIP64 records: numpy writes every member with
/// `force_zip64`).
///
/// Reads the end-of-central-directory record (and its ZIP64 form when a field is saturated),
/// then each central-directory entry; a member's bytes are found through its local header,
/// inflated by zlib (raw deflate) when compressed, and checked against the stored CRC-32.
///
/// Hand-written on zlib rather than taken from ZIPFoundation: on Linux that package declares a
/// system-library module named `CZlib`, the same name as PruneLab's own zlib target, and the
/// build fails with "redefinition of module 'CZlib'". Only reading is needed, and a zip
/// directory is a few fixed-layout records.
struct ZipArchive {
    struct Member {
        var name: String
        var method: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    let file: String
    /// The members in directory order.
    private(set) var members: [Member] = []

    /// Parses the archive's directory; errors are `DatasetError`s naming `file`.
    init(_ bytes: [UInt8], file: String) throws {
        self.bytes = bytes
        self.file = file
        members = try readDirectory()
    }

    private func fail(_ message: String) -> DatasetError { DatasetError(file: file, message) }

    private func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    private func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
    private func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }

    private func has(_ at: Int, _ length: Int) -> Bool { at >= 0 && length >= 0 && at <= bytes.count - length }

    /// The central directory's entries.
    private func readDirectory() throws -> [Member] {
        let notZip = "not a zip archive (an .npz file is the zip archive numpy.savez writes)"
        guard bytes.count >= 22 else { throw fail(notZip) }
        // The end record is the last 22 bytes, before an archive comment of up to 65535 bytes.
        var end = bytes.count - 22
        while end >= max(0, bytes.count - 22 - 65535), u32(end) != 0x0605_4b50 { end -= 1 }
        guard end >= 0, u32(end) == 0x0605_4b50 else { throw fail(notZip) }
        var count = u16(end + 10), offset = u32(end + 16)
        if count == 0xFFFF || offset == 0xFFFF_FFFF {
            let locator = end - 20
            guard has(locator, 20), u32(locator) == 0x0706_4b50 else { throw fail("corrupt zip: ZIP64 locator missing") }
            let record = u64(locator + 8)
            guard has(record, 56), u32(record) == 0x0606_4b50 else { throw fail("corrupt zip: ZIP64 end record missing") }
            count = u64(record + 32)
            offset = u64(record + 48)
        }
        guard count >= 0, count <= bytes.count / 46 else { throw fail("corrupt zip: \(count) entries cannot fit in \(bytes.count) bytes") }
        var members: [Member] = []
        var at = offset
        for _ in 0..<count {
            guard has(at, 46), u32(at) == 0x0201_4b50 else { throw fail("corrupt zip: bad central directory entry at byte \(at)") }
            let nameLength = u16(at + 28), extraLength = u16(at + 30), commentLength = u16(at + 32)
            guard has(at + 46, nameLength + extraLength) else { throw fail("corrupt zip: truncated central directory") }
            var member = Member(
                name: String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self),
                method: u16(at + 10), crc: UInt32(u32(at + 16)), compressedSize: u32(at + 20), size: u32(at + 24),
                localHeaderOffset: u32(at + 42))
            applyZIP64(&member, extra: (at + 46 + nameLength)..<(at + 46 + nameLength + extraLength))
            members.append(member)
            at += 46 + nameLength + extraLength + commentLength
        }
        return members
    }

    /// Replaces saturated sizes and offset by the ZIP64 extra field's 8-byte values (tag 1),
    /// which hold, in this order, only the fields that are saturated.
    private func applyZIP64(_ m: inout Member, extra: Range<Int>) {
        var at = extra.lowerBound
        while at + 4 <= extra.upperBound {
            let tag = u16(at), length = u16(at + 2)
            if tag == 1 {
                var field = at + 4
                let end = min(at + 4 + length, extra.upperBound)
                func next() -> Int? {
                    guard field + 8 <= end else { return nil }
                    defer { field += 8 }
                    return u64(field)
                }
                if m.size == 0xFFFF_FFFF, let v = next() { m.size = v }
                if m.compressedSize == 0xFFFF_FFFF, let v = next() { m.compressedSize = v }
                if m.localHeaderOffset == 0xFFFF_FFFF, let v = next() { m.localHeaderOffset = v }
                return
            }
            at += 4 + length
        }
    }

    /// The uncompressed bytes of `member`, CRC-checked.
    func contents(of member: Member) throws -> [UInt8] {
        let at = member.localHeaderOffset
        guard has(at, 30), u32(at) == 0x0403_4b50 else { throw fail("corrupt zip: no local header for member '\(member.name)'") }
        let start = at + 30 + u16(at + 26) + u16(at + 28)
        guard has(start, member.compressedSize) else { throw fail("truncated zip: member '\(member.name)' ends past the file") }
        // deflate expands at most ~1032:1; a larger size is a corrupt directory, not an allocation to try
        guard member.size >= 0, member.size <= member.compressedSize * 1032 + 64, member.compressedSize < Int(UInt32.max) else {
            throw fail("corrupt zip: member '\(member.name)' claims \(member.size) bytes from \(member.compressedSize)")
        }
        let stored = bytes[start..<(start + member.compressedSize)]
        let data: [UInt8]
        switch member.method {
        case 0: data = Array(stored)
        case 8: data = try inflateRaw(stored, size: member.size, name: member.name)
        default: throw fail("member '\(member.name)' uses compression method \(member.method); only stored (0) and deflate (8) are read")
        }
        let crc = data.withUnsafeBufferPointer { p in UInt32(crc32(0, p.baseAddress, UInt32(p.count))) }
        guard data.count == member.size, crc == member.crc else {
            throw fail("corrupt zip: member '\(member.name)' fails its CRC-32 check")
        }
        return data
    }

    /// Raw deflate data (no zlib or gzip header) inflated to exactly `size` bytes.
    private func inflateRaw(_ input: ArraySlice<UInt8>, size: Int, name: String) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deinitialize(count: 1); stream.deallocate() }
        guard inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib inflateInit2 failed")
        }
        defer { inflateEnd(stream) }
        var out = [UInt8](repeating: 0, count: size + 1)  // one spare byte: more output is an error
        let status = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.pointee.avail_in = UInt32(src.count)
                stream.pointee.next_out = dst.baseAddress
                stream.pointee.avail_out = UInt32(dst.count)
                return inflate(stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.pointee.total_out) == size else {
            throw fail("corrupt zip: member '\(name)' does not inflate to its \(size) bytes (zlib status \(status))")
        }
        out.removeLast()
        return out
    }
}

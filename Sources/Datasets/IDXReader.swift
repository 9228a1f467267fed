/// An array read from an IDX file: its shape, element type and the element bytes as stored.
///
/// `data` holds `shape.reduce(1, *)` elements of `type`, row-major, each big-endian, and is a
/// slice of the file's bytes (no copy; its indices start after the header). Convert with
/// `unitScaledFloats()` (uint8 pixels), `floatValues()` or `integerValues()`.
public struct IDXArray: Equatable, Sendable {
    /// The IDX element type, coded by the third magic byte.
    public enum ElementType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var byteWidth: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }

        public var isInteger: Bool { self != .float32 && self != .float64 }

        public var description: String {
            switch self {
            case .uint8: return "uint8"
            case .int8: return "int8"
            case .int16: return "int16"
            case .int32: return "int32"
            case .float32: return "float32"
            case .float64: return "float64"
            }
        }
    }

    public var shape: [Int]
    public var type: ElementType
    public var data: ArraySlice<UInt8>

    /// Wraps `data` (big-endian elements of `type`); its length must match `shape`.
    public init(shape: [Int], type: ElementType, data: ArraySlice<UInt8>) {
        precondition(
            shape.reduce(1, *) * type.byteWidth == data.count,
            "shape \(shape) of \(type) needs \(shape.reduce(1, *) * type.byteWidth) bytes, got \(data.count)")
        self.shape = shape
        self.type = type
        self.data = data
    }

    /// Number of elements.
    public var count: Int { data.count / type.byteWidth }
    public var rank: Int { shape.count }

    /// uint8 elements divided by 255, so 0...255 maps onto 0...1; nil for any other type.
    ///
    /// One pass over the bytes through a 256-entry table (the values are exactly `Float(v) / 255`).
    public func unitScaledFloats() -> [Float]? {
        guard type == .uint8 else { return nil }
        var table = [Float](repeating: 0, count: 256)
        for v in 0..<256 { table[v] = Float(v) / 255 }
        let n = data.count
        return table.withUnsafeBufferPointer { lut in
            data.withUnsafeBufferPointer { src in
                [Float](unsafeUninitializedCapacity: n) { dst, initialized in
                    for i in 0..<n { dst[i] = lut[Int(src[i])] }
                    initialized = n
                }
            }
        }
    }

    /// Every element converted to `Float` (integers exactly up to 2^24, float64 rounded).
    public func floatValues() -> [Float] {
        let n = count
        let type = self.type
        return data.withUnsafeBufferPointer { src in
            [Float](unsafeUninitializedCapacity: n) { dst, initialized in
                switch type {
                case .uint8: for i in 0..<n { dst[i] = Float(src[i]) }
                case .int8: for i in 0..<n { dst[i] = Float(Int8(bitPattern: src[i])) }
                case .int16: for i in 0..<n { dst[i] = Float(Int16(bitPattern: Self.be16(src, i))) }
                case .int32: for i in 0..<n { dst[i] = Float(Int32(bitPattern: Self.be32(src, i))) }
                case .float32: for i in 0..<n { dst[i] = Float(bitPattern: Self.be32(src, i)) }
                case .float64: for i in 0..<n { dst[i] = Float(Double(bitPattern: Self.be64(src, i))) }
                }
                initialized = n
            }
        }
    }

    /// Every element as `Int` for the integer types; nil for float32 and float64.
    public func integerValues() -> [Int]? {
        guard type.isInteger else { return nil }
        let n = count
        let type = self.type
        return data.withUnsafeBufferPointer { src in
            [Int](unsafeUninitializedCapacity: n) { dst, initialized in
                switch type {
                case .uint8: for i in 0..<n { dst[i] = Int(src[i]) }
                case .int8: for i in 0..<n { dst[i] = Int(Int8(bitPattern: src[i])) }
                case .int16: for i in 0..<n { dst[i] = Int(Int16(bitPattern: Self.be16(src, i))) }
                case .int32: for i in 0..<n { dst[i] = Int(Int32(bitPattern: Self.be32(src, i))) }
                case .float32, .float64: break
                }
                initialized = n
            }
        }
    }

    @inline(__always)
    private static func be16(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt16 {
        UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1])
    }

    @inline(__always)
    private static func be32(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        let j = 4 * i
        return UInt32(p[j]) << 24 | UInt32(p[j + 1]) << 16 | UInt32(p[j + 2]) << 8 | UInt32(p[j + 3])
    }

    @inline(__always)
    private static func be64(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(p[8 * i + k]) }
        return v
    }
}

/// Parses IDX files, the format of MNIST and Fashion-MNIST.
///
/// Layout: bytes 0-1 are zero, byte 2 the element type (0x08 uint8, 0x09 int8, 0x0B int16,
/// 0x0C int32, 0x0D float32, 0x0E float64), byte 3 the number of dimensions `d >= 1`; then `d`
/// big-endian `UInt32` sizes, outermost first; then exactly `product(sizes)` big-endian elements.
/// A short file or extra bytes after the data are errors. Files may be gzip-compressed (see `Gzip`).
public enum IDXReader {
    /// Reads and parses the IDX file at `path`, inflating it first when it is gzip.
    public static func read(file path: String) throws -> IDXArray {
        try parse(Gzip.readFile(path), file: path)
    }

    /// Parses the IDX bytes `bytes` (already inflated); `file` names the source in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws -> IDXArray {
        func fail(_ message: String) -> DatasetError { DatasetError(file: file, message) }
        guard bytes.count >= 4 else {
            throw fail("not an IDX file: \(bytes.count) bytes, shorter than the 4-byte magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let hint = Gzip.isGzip(bytes) ? " (gzip data that was not inflated)" : ""
            throw fail(
                "not an IDX file: magic starts with \(hex(bytes[0])) \(hex(bytes[1])), "
                    + "expected 0x00 0x00\(hint)")
        }
        guard let type = IDXArray.ElementType(rawValue: bytes[2]) else {
            throw fail(
                "unknown IDX element type byte \(hex(bytes[2])) (expected 0x08 uint8, 0x09 int8, "
                    + "0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64)")
        }
        let rank = Int(bytes[3])
        guard rank > 0 else { throw fail("IDX header declares 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail(
                "truncated IDX header: \(rank) dimensions need \(headerSize) header bytes, "
                    + "file has \(bytes.count)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        var elements = 1
        var overflow = false
        for d in 0..<rank {
            let j = 4 + 4 * d
            let size = Int(bytes[j]) << 24 | Int(bytes[j + 1]) << 16 | Int(bytes[j + 2]) << 8 | Int(bytes[j + 3])
            shape.append(size)
            let (product, o) = elements.multipliedReportingOverflow(by: size)
            elements = product
            overflow = overflow || o
        }
        let (expected, o) = elements.multipliedReportingOverflow(by: type.byteWidth)
        guard !overflow, !o else { throw fail("IDX shape \(shape) of \(type) is too large to address") }
        let actual = bytes.count - headerSize
        guard actual >= expected else {
            throw fail("truncated IDX data: shape \(shape) of \(type) needs \(expected) data bytes, file has \(actual)")
        }
        guard actual == expected else {
            throw fail(
                "\(actual - expected) trailing bytes after the \(expected) data bytes "
                    + "of shape \(shape) of \(type)")
        }
        return IDXArray(shape: shape, type: type, data: bytes[headerSize...])
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = String(b, radix: 16, uppercase: true)
        return "0x" + (digits.count < 2 ? "0" + digits : digits)
    }
}

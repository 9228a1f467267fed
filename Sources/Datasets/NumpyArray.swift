import Foundation

/// One array in NumPy's `.npy` format (versions 1.0, 2.0 and 3.0), as `numpy.save` writes it
/// and as each member of a `numpy.savez` archive holds it.
///
/// Layout: the magic `\x93NUMPY`, the version's two bytes, the header's length (2 bytes
/// little-endian in version 1, 4 bytes in versions 2 and 3), the header — a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }` — then the elements.
/// Element types: floats `f2`, `f4`, `f8`, signed `i1`…`i8`, unsigned `u1`…`u8`, little (`<`),
/// big (`>`) or not applicable (`|`) byte order. Only C order is read: a `fortran_order: True`
/// array, a structured, complex, boolean, string or object array is an error naming the file.
///
/// Hand-written because no Swift package reads `.npy` files, and the format is one short header
/// before the raw elements.
public struct NumpyArray: Sendable {
    /// The element type's kind: `f` float, `i` signed integer, `u` unsigned integer.
    public enum Kind: Character, Sendable { case float = "f", signed = "i", unsigned = "u" }

    public var shape: [Int]
    public var kind: Kind
    /// Bytes per element.
    public var itemSize: Int
    public var bigEndian: Bool
    /// The header's type string, as NumPy wrote it (`<f4`).
    public var descr: String
    /// The elements' bytes, C order.
    var payload: [UInt8]

    public var count: Int { shape.reduce(1, *) }
    public var isInteger: Bool { kind != .float }

    /// Parses the bytes of a `.npy` file; `file` (and `array`, for an archive member) name the
    /// source in errors.
    public static func parse(_ bytes: [UInt8], file: String, array: String? = nil) throws -> NumpyArray {
        let where_ = array.map { "array '\($0)': " } ?? ""
        func fail(_ message: String) -> DatasetError { DatasetError(file: file, where_ + message) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy array (no \\x93NUMPY magic)") }
        let major = bytes[6]
        guard (1...3).contains(major) else { throw fail("unsupported .npy version \(major).\(bytes[7])") }
        let lengthBytes = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthBytes else { throw fail("truncated header") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let start = 8 + lengthBytes + headerLength
        guard bytes.count >= start else { throw fail("truncated header (\(bytes.count) bytes, header ends at \(start))") }
        let text = String(decoding: bytes[(8 + lengthBytes)..<start], as: UTF8.self)
        let header = try NumpyHeader(text, fail: fail)
        guard !header.fortranOrder else {
            throw fail("fortran_order arrays are not supported; save a C-order array (numpy.ascontiguousarray)")
        }
        let (kind, size, big) = try elementType(header.descr, fail: fail)
        var expected = size
        for d in header.shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("shape \(header.shape) is too large") }
            expected = product
        }
        guard bytes.count - start == expected else {
            throw fail(
                "holds \(bytes.count - start) data bytes; shape \(header.shape) of \(header.descr) needs \(expected)"
                    + (bytes.count - start < expected ? " (truncated)" : ""))
        }
        return NumpyArray(
            shape: header.shape, kind: kind, itemSize: size, bigEndian: big, descr: header.descr,
            payload: Array(bytes[start...]))
    }

    /// Kind, size and byte order of a type string such as `<f4`, `>i8` or `|u1`.
    static func elementType(_ descr: String, fail: (String) -> DatasetError) throws -> (Kind, Int, Bool) {
        let chars = Array(descr)
        guard chars.count >= 3, "<>|=".contains(chars[0]), let kind = Kind(rawValue: chars[1]),
            let size = Int(String(chars[2...])), [1, 2, 4, 8].contains(size), kind != .float || size >= 2
        else {
            throw fail("dtype '\(descr)' is not a float (f2, f4, f8) or integer (i1-i8, u1-u8) type")
        }
        return (kind, size, chars[0] == ">")
    }

    /// Every element as a `Double` (exact for every type but 64-bit integers beyond 2^53).
    public func doubles() -> [Double] { map { $0 } }

    /// Every element as a `Float`.
    public func floats() -> [Float] { map { Float($0) } }

    /// The elements converted by `convert`, read in the stored byte order.
    func map<T>(_ convert: (Double) -> T) -> [T] {
        payload.withUnsafeBytes { raw -> [T] in
            func read<U: FixedWidthInteger>(_: U.Type, _ i: Int) -> U {
                let v = raw.loadUnaligned(fromByteOffset: i * itemSize, as: U.self)
                return bigEndian ? U(bigEndian: v) : U(littleEndian: v)
            }
            let n = count
            switch (kind, itemSize) {
            case (.float, 2): return (0..<n).map { convert(Double(Float16(bitPattern: read(UInt16.self, $0)))) }
            case (.float, 4): return (0..<n).map { convert(Double(Float(bitPattern: read(UInt32.self, $0)))) }
            case (.float, _): return (0..<n).map { convert(Double(bitPattern: read(UInt64.self, $0))) }
            case (.signed, 1): return (0..<n).map { convert(Double(read(Int8.self, $0))) }
            case (.signed, 2): return (0..<n).map { convert(Double(read(Int16.self, $0))) }
            case (.signed, 4): return (0..<n).map { convert(Double(read(Int32.self, $0))) }
            case (.signed, _): return (0..<n).map { convert(Double(read(Int64.self, $0))) }
            case (.unsigned, 1): return (0..<n).map { convert(Double(read(UInt8.self, $0))) }
            case (.unsigned, 2): return (0..<n).map { convert(Double(read(UInt16.self, $0))) }
            case (.unsigned, 4): return (0..<n).map { convert(Double(read(UInt32.self, $0))) }
            case (.unsigned, _): return (0..<n).map { convert(Double(read(UInt64.self, $0))) }
            }
        }
    }
}

/// The header dict of a `.npy` file: `descr`, `fortran_order` and `shape`, parsed from the
/// Python literal NumPy writes (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`).
struct NumpyHeader {
    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    init(_ text: String, fail: (String) -> DatasetError) throws {
        var scanner = Scanner(Array(text.unicodeScalars))
        func bad(_ what: String) -> DatasetError {
            fail("unreadable header (\(what)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard scanner.take("{") else { throw bad("no '{'") }
        var seen = Set<String>()
        while !scanner.take("}") {
            guard let key = scanner.quoted(), scanner.take(":") else { throw bad("expected 'key':") }
            switch key {
            case "descr":
                guard let d = scanner.quoted() else {
                    throw fail("dtype is not a plain type (a structured array?); save one float or integer array per name")
                }
                descr = d
            case "fortran_order":
                guard let b = scanner.word(), b == "True" || b == "False" else { throw bad("fortran_order") }
                fortranOrder = b == "True"
            case "shape":
                guard let s = scanner.tuple() else { throw bad("shape") }
                shape = s
            default:
                throw bad("unknown key '\(key)'")
            }
            seen.insert(key)
            _ = scanner.take(",")
        }
        guard seen == ["descr", "fortran_order", "shape"] else { throw bad("missing keys") }
    }

    /// A cursor over the header's characters, skipping blanks before each token.
    struct Scanner {
        let chars: [Unicode.Scalar]
        var i = 0
        init(_ chars: [Unicode.Scalar]) { self.chars = chars }

        mutating func skip() { while i < chars.count, chars[i] == " " || chars[i] == "\n" { i += 1 } }

        mutating func take(_ c: Unicode.Scalar) -> Bool {
            skip()
            guard i < chars.count, chars[i] == c else { return false }
            i += 1
            return true
        }

        mutating func quoted() -> String? {
            skip()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { return nil }
            let q = chars[i]
            var j = i + 1
            while j < chars.count, chars[j] != q { j += 1 }
            guard j < chars.count else { return nil }
            defer { i = j + 1 }
            return String(String.UnicodeScalarView(chars[(i + 1)..<j]))
        }

        mutating func word() -> String? {
            skip()
            var j = i
            while j < chars.count, chars[j].properties.isAlphabetic { j += 1 }
            guard j > i else { return nil }
            defer { i = j }
            return String(String.UnicodeScalarView(chars[i..<j]))
        }

        mutating func tuple() -> [Int]? {
            guard take("(") else { return nil }
            var out: [Int] = []
            while !take(")") {
                skip()
                var j = i
                while j < chars.count, ("0"..."9").contains(chars[j]) { j += 1 }
                guard j > i, let n = Int(String(String.UnicodeScalarView(chars[i..<j]))) else { return nil }
                out.append(n)
                i = j
                if take("L") {}  // Python 2 longs
                _ = take(",")
            }
            return out
        }
    }
}

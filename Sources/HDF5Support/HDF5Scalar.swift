import CHDF5

/// A Swift number type that maps to one native HDF5 element type.
///
/// Conforming types: `Float`, `Double`, `Int8`, `UInt8`, `Int16`, `UInt16`, `Int32`, `UInt32`,
/// `Int64`, `UInt64`. Reading converts from the stored type (HDF5 does the conversion, clamping
/// out-of-range values to the target's range); writing stores the native little-endian type.
/// Refines `BitwiseCopyable` because values are handed to HDF5 as raw bytes.
public protocol HDF5Scalar: BitwiseCopyable {
    static var hdf5Type: HDF5ScalarType { get }
}

/// The fixed-size numeric element types PruneLab reads and writes.
public enum HDF5ScalarType: Sendable, Equatable {
    case int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64

    public var isInteger: Bool { self != .float32 && self != .float64 }

    /// The HDF5 native type id (valid for the life of the process).
    var nativeType: hid_t {
        switch self {
        case .int8: return prunelab_h5t_native_int8()
        case .uint8: return prunelab_h5t_native_uint8()
        case .int16: return prunelab_h5t_native_int16()
        case .uint16: return prunelab_h5t_native_uint16()
        case .int32: return prunelab_h5t_native_int32()
        case .uint32: return prunelab_h5t_native_uint32()
        case .int64: return prunelab_h5t_native_int64()
        case .uint64: return prunelab_h5t_native_uint64()
        case .float32: return prunelab_h5t_native_float()
        case .float64: return prunelab_h5t_native_double()
        }
    }
}

extension Float: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .float32 } }
extension Double: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .float64 } }
extension Int8: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int8 } }
extension UInt8: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .uint8 } }
extension Int16: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int16 } }
extension UInt16: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .uint16 } }
extension Int32: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int32 } }
extension UInt32: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .uint32 } }
extension Int64: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int64 } }
extension UInt64: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .uint64 } }

/// How a dataset's elements are stored in the file, as far as PruneLab cares.
public enum HDF5StoredType: Sendable, Equatable, CustomStringConvertible {
    case integer(bits: Int, signed: Bool)
    case float(bits: Int)
    /// Fixed- or variable-length strings.
    case string
    /// Anything else (compound, enum, array, reference, ...), named by its HDF5 class.
    case other(String)

    public var isNumeric: Bool {
        switch self {
        case .integer, .float: return true
        case .string, .other: return false
        }
    }

    public var description: String {
        switch self {
        case .integer(let bits, let signed): return "\(signed ? "int" : "uint")\(bits)"
        case .float(let bits): return "float\(bits)"
        case .string: return "string"
        case .other(let name): return name
        }
    }
}

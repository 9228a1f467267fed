import CHDF5

extension HDF5File {
    /// Reads all of dataset `name` as `T`, letting HDF5 convert from the stored number type.
    ///
    /// `values` is row-major over `shape` (`[]` and one value for a scalar dataset). Chunked and
    /// compressed datasets read like contiguous ones. Any integer or float stored type converts
    /// to a float `T`; an integer `T` accepts only integer stored types (reading floats as
    /// integers would truncate silently), and out-of-range integers clamp to `T`'s range.
    /// Strings and other non-numeric types throw.
    public func read<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws
        -> (shape: [Int], values: [T])
    {
        try HDF5Library.locked {
            let dataset = try openDataset(name)
            let fileType = try HDF5Handle.make(
                H5Dget_type(dataset.id), .datatype, file: path,
                .dataset(name), call: "H5Dget_type")
            let stored = try storedType(ofType: fileType.id, .dataset(name))
            guard stored.isNumeric else {
                throw HDF5Error(file: path, .dataset(name), "stored type \(stored) is not numeric")
            }
            if T.hdf5Type.isInteger, case .float = stored {
                throw HDF5Error(
                    file: path, .dataset(name),
                    "stored type \(stored) cannot be read as integers without rounding")
            }
            let shape = try shape(ofDataset: dataset, name: name)
            let count = shape.reduce(1, *)
            var status: herr_t = 0
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    status = H5Dread(
                        dataset.id, T.hdf5Type.nativeType, prunelab_h5s_all(),
                        prunelab_h5s_all(), prunelab_h5p_default(), buffer.baseAddress)
                }
                initialized = status >= 0 ? count : 0
            }
            try checkStatus(status, file: path, .dataset(name), call: "H5Dread")
            return (shape, values)
        }
    }

    /// Reads dataset `name` as `Float` from any integer or float stored type (see `read(_:as:)`).
    public func readFloats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        try read(name, as: Float.self)
    }

    /// Reads dataset `name` as `Double` from any integer or float stored type (see `read(_:as:)`).
    public func readDoubles(_ name: String) throws -> (shape: [Int], values: [Double]) {
        try read(name, as: Double.self)
    }

    /// Reads dataset `name` as `Int64` from any integer stored type (see `read(_:as:)`).
    public func readInt64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        try read(name, as: Int64.self)
    }
}

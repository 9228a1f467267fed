import CHDF5

extension HDF5File {
    // MARK: - Writing

    /// Sets string attribute `name` on the group or dataset at `path`, replacing any old value.
    ///
    /// Stored as a scalar variable-length UTF-8 string, which h5py reads back as `str`. The
    /// value ends at its first NUL character, if any.
    public func setAttribute(_ name: String, _ value: String, on path: String = "/") throws {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.attribute(name, on: path)
            let type = try variableStringType(cset: H5T_CSET_UTF8, subject)
            let attribute = try createAttribute(name, on: path, type: type.id, subject)
            let status = value.withCString { cString -> herr_t in
                var pointer: UnsafePointer<CChar>? = cString
                return withUnsafePointer(to: &pointer) { H5Awrite(attribute.id, type.id, $0) }
            }
            try checkStatus(status, file: self.path, subject, call: "H5Awrite")
        }
    }

    /// Sets scalar `Double` attribute `name` on the group or dataset at `path` (stored as float64).
    public func setAttribute(_ name: String, _ value: Double, on path: String = "/") throws {
        try setScalarAttribute(name, value, on: path)
    }

    /// Sets scalar `Int` attribute `name` on the group or dataset at `path` (stored as int64).
    public func setAttribute(_ name: String, _ value: Int, on path: String = "/") throws {
        try setScalarAttribute(name, Int64(value), on: path)
    }

    // MARK: - Reading

    /// Whether attribute `name` exists on the group or dataset at `path`.
    public func hasAttribute(_ name: String, on path: String = "/") -> Bool {
        HDF5Library.locked {
            guard let id = try? openID(), linkExists(path, in: id) else { return false }
            let exists = H5Aexists_by_name(id, path, name, prunelab_h5p_default())
            if exists < 0 { _ = HDF5Library.takeErrorDetail() }
            return exists > 0
        }
    }

    /// The string attribute `name` on `path`, stored as a fixed- or variable-length string.
    ///
    /// Fixed-length values end at their first NUL byte; bytes that are not UTF-8 are replaced
    /// with U+FFFD. The attribute must hold exactly one string.
    public func attributeString(_ name: String, on path: String = "/") throws -> String {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.attribute(name, on: path)
            let attribute = try openAttribute(name, on: path, subject)
            let fileType = try HDF5Handle.make(
                H5Aget_type(attribute.id), .datatype, file: self.path,
                subject, call: "H5Aget_type")
            let stored = try storedType(ofType: fileType.id, subject)
            guard stored == .string else {
                throw HDF5Error(file: self.path, subject, "stored type \(stored) is not a string")
            }
            let cset = H5Tget_cset(fileType.id)
            guard cset != H5T_CSET_ERROR else { throw HDF5Library.failure(self.path, subject, "H5Tget_cset") }
            let isVariable = try checkStatus(
                H5Tis_variable_str(fileType.id), file: self.path, subject,
                call: "H5Tis_variable_str")
            if isVariable > 0 {
                let memoryType = try variableStringType(cset: cset, subject)
                var pointer: UnsafeMutablePointer<CChar>? = nil
                try checkStatus(
                    H5Aread(attribute.id, memoryType.id, &pointer), file: self.path, subject,
                    call: "H5Aread")
                guard let pointer else { return "" }
                defer { _ = H5free_memory(pointer) }
                return String(cString: pointer)
            }
            let size = H5Tget_size(fileType.id)
            guard size > 0 else { throw HDF5Library.failure(self.path, subject, "H5Tget_size") }
            let memoryType = try HDF5Handle.make(
                H5Tcopy(prunelab_h5t_c_s1()), .datatype, file: self.path,
                subject, call: "H5Tcopy")
            try checkStatus(H5Tset_size(memoryType.id, size), file: self.path, subject, call: "H5Tset_size")
            try checkStatus(
                H5Tset_strpad(memoryType.id, H5T_STR_NULLPAD), file: self.path, subject,
                call: "H5Tset_strpad")
            try checkStatus(H5Tset_cset(memoryType.id, cset), file: self.path, subject, call: "H5Tset_cset")
            var bytes = [UInt8](repeating: 0, count: size)
            try checkStatus(
                H5Aread(attribute.id, memoryType.id, &bytes), file: self.path, subject,
                call: "H5Aread")
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    /// The numeric attribute `name` on `path` as `Double`, converted from any integer or float type.
    public func attributeDouble(_ name: String, on path: String = "/") throws -> Double {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.attribute(name, on: path)
            let (attribute, _) = try openNumericAttribute(name, on: path, subject)
            var value: Double = 0
            try checkStatus(
                H5Aread(attribute.id, prunelab_h5t_native_double(), &value), file: self.path,
                subject, call: "H5Aread")
            return value
        }
    }

    /// The numeric attribute `name` on `path` as `Int`; a float value must be a whole number.
    public func attributeInt(_ name: String, on path: String = "/") throws -> Int {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.attribute(name, on: path)
            let (attribute, stored) = try openNumericAttribute(name, on: path, subject)
            if case .float = stored {
                var value: Double = 0
                try checkStatus(
                    H5Aread(attribute.id, prunelab_h5t_native_double(), &value),
                    file: self.path, subject, call: "H5Aread")
                guard value.rounded() == value, abs(value) < 0x1p63 else {
                    throw HDF5Error(file: self.path, subject, "value \(value) is not a whole number in Int range")
                }
                return Int(value)
            }
            var value: Int64 = 0
            try checkStatus(
                H5Aread(attribute.id, prunelab_h5t_native_int64(), &value), file: self.path,
                subject, call: "H5Aread")
            return Int(value)
        }
    }

    // MARK: - Helpers (call inside HDF5Library.locked)

    private func setScalarAttribute<T: HDF5Scalar>(_ name: String, _ value: T, on path: String) throws {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.attribute(name, on: path)
            let type = T.hdf5Type.nativeType
            let attribute = try createAttribute(name, on: path, type: type, subject)
            let status = withUnsafeBytes(of: value) { H5Awrite(attribute.id, type, $0.baseAddress) }
            try checkStatus(status, file: self.path, subject, call: "H5Awrite")
        }
    }

    /// A variable-length C string type with character set `cset`.
    private func variableStringType(cset: H5T_cset_t, _ subject: HDF5Error.Subject) throws -> HDF5Handle {
        let type = try HDF5Handle.make(
            H5Tcopy(prunelab_h5t_c_s1()), .datatype, file: path, subject,
            call: "H5Tcopy")
        try checkStatus(H5Tset_size(type.id, prunelab_h5t_variable()), file: path, subject, call: "H5Tset_size")
        try checkStatus(H5Tset_cset(type.id, cset), file: path, subject, call: "H5Tset_cset")
        return type
    }

    /// Creates scalar attribute `name` of `type` on `path`, deleting an existing one first.
    private func createAttribute(
        _ name: String, on path: String, type: hid_t,
        _ subject: HDF5Error.Subject
    ) throws -> HDF5Handle {
        _ = try writableID(subject)
        let object = try openObject(path)
        let exists = try checkStatus(H5Aexists(object.id, name), file: self.path, subject, call: "H5Aexists")
        if exists > 0 {
            try checkStatus(H5Adelete(object.id, name), file: self.path, subject, call: "H5Adelete")
        }
        let space = try HDF5Handle.make(
            H5Screate(H5S_SCALAR), .dataspace, file: self.path, subject,
            call: "H5Screate")
        return try HDF5Handle.make(
            H5Acreate2(object.id, name, type, space.id, prunelab_h5p_default(), prunelab_h5p_default()),
            .attribute, file: self.path, subject, call: "H5Acreate2")
    }

    /// Opens attribute `name` on `path`, checking it holds exactly one element.
    private func openAttribute(
        _ name: String, on path: String,
        _ subject: HDF5Error.Subject
    ) throws -> HDF5Handle {
        let object = try openObject(path)
        let exists = try checkStatus(H5Aexists(object.id, name), file: self.path, subject, call: "H5Aexists")
        guard exists > 0 else { throw HDF5Error(file: self.path, subject, "no such attribute") }
        let attribute = try HDF5Handle.make(
            H5Aopen(object.id, name, prunelab_h5p_default()), .attribute,
            file: self.path, subject, call: "H5Aopen")
        let space = try HDF5Handle.make(
            H5Aget_space(attribute.id), .dataspace, file: self.path, subject,
            call: "H5Aget_space")
        let count = try checkStatus(
            H5Sget_simple_extent_npoints(space.id), file: self.path, subject,
            call: "H5Sget_simple_extent_npoints")
        guard count == 1 else {
            throw HDF5Error(file: self.path, subject, "holds \(count) values, expected one")
        }
        return attribute
    }

    /// Opens a one-element attribute whose stored type is an integer or float.
    private func openNumericAttribute(_ name: String, on path: String, _ subject: HDF5Error.Subject)
        throws -> (HDF5Handle, HDF5StoredType)
    {
        let attribute = try openAttribute(name, on: path, subject)
        let fileType = try HDF5Handle.make(
            H5Aget_type(attribute.id), .datatype, file: self.path,
            subject, call: "H5Aget_type")
        let stored = try storedType(ofType: fileType.id, subject)
        guard stored.isNumeric else {
            throw HDF5Error(file: self.path, subject, "stored type \(stored) is not numeric")
        }
        return (attribute, stored)
    }
}

import CHDF5
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// An open HDF5 file, closed when the object goes away (or earlier with `close()`).
///
/// Paths inside the file are `/`-separated and taken from the root: `"X_train"`,
/// `"fc1/weight"` and `"/fc1/weight"` all work. Every failing HDF5 call throws an `HDF5Error`
/// naming the file, the object and the call. Not `Sendable`: use one file from one task at a
/// time (all HDF5 calls are serialised process-wide anyway, see `HDF5Library`).
public final class HDF5File {
    /// The path the file was opened or created with, used in every error message.
    public let path: String
    /// Whether the file was created by `init(creating:)` and accepts writes.
    public let isWritable: Bool
    /// The HDF5 file id, or -1 once closed.
    private var fileID: hid_t
    /// For a file being created: the descriptor `close()` writes the in-memory image to, else -1.
    private var output: Int32 = -1

    /// Opens an existing HDF5 file read-only.
    ///
    /// Throws `"<path>: no such file"` when nothing is there and `"<path>: not an HDF5 file"`
    /// when the file lacks the HDF5 signature (checked with `H5Fis_hdf5` before opening).
    public init(path: String) throws {
        self.path = path
        self.isWritable = false
        self.fileID = try HDF5Library.locked {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw HDF5Error(file: path, .file, "no such file")
            }
            guard !isDirectory.boolValue else {
                throw HDF5Error(file: path, .file, "not an HDF5 file (it is a directory)")
            }
            let isHDF5 = H5Fis_hdf5(path)
            if isHDF5 == 0 { throw HDF5Error(file: path, .file, "not an HDF5 file") }
            try checkStatus(isHDF5, file: path, .file, call: "H5Fis_hdf5")
            let id = H5Fopen(path, prunelab_h5f_acc_rdonly(), prunelab_h5p_default())
            guard id >= 0 else { throw HDF5Library.failure(path, .file, "H5Fopen") }
            return id
        }
    }

    /// Creates a new HDF5 file for writing, truncating any file already at `path`.
    ///
    /// The file is built in memory (HDF5's core driver, no backing store) and written to `path`
    /// by `close()` with plain `write(2)` calls, so a disk that fills up is one thrown error
    /// naming the file. Why: with the default driver a failed flush makes `H5Fclose` fail
    /// half-way, the id stays registered with a torn-down file behind it, and HDF5's `atexit`
    /// cleanup then closes it again and segfaults (libhdf5 1.10.8; see results/reliability.md).
    /// `path` is opened (created, truncated) here, so a missing folder fails at once. Call
    /// `close()` to learn whether the bytes reached the disk; a file dropped without `close()`
    /// is still written, on a best-effort basis, by `deinit`.
    public init(creating path: String) throws {
        self.path = path
        self.isWritable = true
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw HDF5Error(file: path, .file, "cannot create: \(String(cString: strerror(errno)))")
        }
        self.output = fd
        do {
            self.fileID = try HDF5Library.locked {
                let fapl = try HDF5Handle.make(
                    H5Pcreate(prunelab_h5p_file_access()), .propertyList, file: path,
                    .file, call: "H5Pcreate")
                try checkStatus(H5Pset_fapl_core(fapl.id, 1 << 20, false), file: path, .file, call: "H5Pset_fapl_core")
                let id = H5Fcreate(path, prunelab_h5f_acc_trunc(), prunelab_h5p_default(), fapl.id)
                guard id >= 0 else { throw HDF5Library.failure(path, .file, "H5Fcreate") }
                return id
            }
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Creates a disk-backed HDF5 file (truncating any file at `path`) for a store written
    /// incrementally: the latest file format (needed for SWMR), the default POSIX driver.
    ///
    /// Create its datasets (`createExtendableDataset`), then call `startSingleWriter()`; from
    /// then on every `flush()` leaves a file that a reader opening it with SWMR read access
    /// (`h5py.File(path, "r", swmr=True)`) sees complete up to that flush, even when this
    /// process is killed before `close()`. Unlike `init(creating:)`, a disk that fills up while
    /// HDF5 flushes is reported by the failing call only (see that initializer on why).
    public init(store path: String) throws {
        self.path = path
        self.isWritable = true
        self.fileID = try HDF5Library.locked {
            let fapl = try HDF5Handle.make(
                H5Pcreate(prunelab_h5p_file_access()), .propertyList, file: path, .file, call: "H5Pcreate")
            try checkStatus(
                H5Pset_libver_bounds(fapl.id, prunelab_h5f_libver_latest(), prunelab_h5f_libver_latest()), file: path, .file,
                call: "H5Pset_libver_bounds")
            let id = H5Fcreate(path, prunelab_h5f_acc_trunc(), prunelab_h5p_default(), fapl.id)
            guard id >= 0 else { throw HDF5Library.failure(path, .file, "H5Fcreate") }
            return id
        }
    }

    /// Opens an existing HDF5 file read-only with SWMR read access, which also opens a store
    /// whose writer was killed before closing it (it then reads up to the writer's last flush).
    public init(readingStore path: String) throws {
        self.path = path
        self.isWritable = false
        self.fileID = try HDF5Library.locked {
            guard FileManager.default.fileExists(atPath: path) else { throw HDF5Error(file: path, .file, "no such file") }
            let id = H5Fopen(path, prunelab_h5f_acc_rdonly() | prunelab_h5f_acc_swmr_read(), prunelab_h5p_default())
            guard id >= 0 else { throw HDF5Library.failure(path, .file, "H5Fopen") }
            return id
        }
    }

    deinit {
        let id = fileID
        if id >= 0 {
            if output >= 0 { _ = try? writeImageAndClose() } else { HDF5Library.locked { _ = H5Fclose(id) } }
        }
        if output >= 0 { _ = Glibc.close(output) }
    }

    /// Closes the file now, reporting a failed final flush; later calls on the file throw.
    ///
    /// A file made by `init(creating:)` is written to disk here; a failed or short write (disk
    /// full, I/O error) throws an `HDF5Error` naming the file and `errno`'s text. Closing twice
    /// is allowed and does nothing the second time.
    public func close() throws {
        if output >= 0 {
            defer {
                if output >= 0 { _ = Glibc.close(output) }
                output = -1
            }
            guard fileID >= 0 else { return }
            try writeImageAndClose()
            return
        }
        try HDF5Library.locked {
            guard fileID >= 0 else { return }
            let status = H5Fclose(fileID)
            fileID = -1
            try checkStatus(status, file: path, .file, call: "H5Fclose")
        }
    }

    /// Takes the in-memory file's image, closes the HDF5 id (which cannot fail on disk errors:
    /// nothing is on disk) and writes the image to `output`, then closes `output` and checks it.
    private func writeImageAndClose() throws {
        let image: [UInt8] = try HDF5Library.locked {
            let id = fileID
            fileID = -1
            var image: [UInt8] = []
            var failure: HDF5Error?
            if H5Fflush(id, H5F_SCOPE_LOCAL) < 0 {
                failure = HDF5Library.failure(path, .file, "H5Fflush")
            } else {
                let size = H5Fget_file_image(id, nil, 0)
                if size < 0 {
                    failure = HDF5Library.failure(path, .file, "H5Fget_file_image")
                } else {
                    image = [UInt8](repeating: 0, count: size)
                    let got = image.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
                    if got != size { failure = HDF5Library.failure(path, .file, "H5Fget_file_image") }
                }
            }
            if H5Fclose(id) < 0, failure == nil { failure = HDF5Library.failure(path, .file, "H5Fclose") }
            if let failure { throw failure }
            return image
        }
        var written = 0
        try image.withUnsafeBytes { bytes in
            while written < bytes.count {
                let n = write(output, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    let reason = n < 0 ? String(cString: strerror(errno)) : "wrote 0 bytes"
                    throw HDF5Error(file: path, .file, "cannot write (\(written) of \(bytes.count) bytes written): \(reason)")
                }
                written += n
            }
        }
        let fd = output
        output = -1
        guard Glibc.close(fd) == 0 else {
            throw HDF5Error(file: path, .file, "cannot write: close failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Listing and shapes

    /// Names of the datasets directly inside `group` (default: the root), in name order.
    ///
    /// Subgroups and dangling links are left out.
    public func datasetNames(in group: String = "/") throws -> [String] {
        try linkNames(in: group, of: H5I_DATASET)
    }

    /// The names of the groups directly inside `group`, in name order.
    public func groupNames(in group: String = "/") throws -> [String] {
        try linkNames(in: group, of: H5I_GROUP)
    }

    /// The names of the objects of `type` directly inside `group`, in name order.
    func linkNames(in group: String, of type: H5I_type_t) throws -> [String] {
        try HDF5Library.locked {
            let g = try HDF5Handle.make(
                H5Gopen2(try openID(), group, prunelab_h5p_default()),
                .group, file: path, .group(group), call: "H5Gopen2")
            var info = H5G_info_t()
            try checkStatus(H5Gget_info(g.id, &info), file: path, .group(group), call: "H5Gget_info")
            var names: [String] = []
            for index in 0..<info.nlinks {
                let length = H5Lget_name_by_idx(
                    g.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                    prunelab_h5p_default())
                try checkStatus(length, file: path, .group(group), call: "H5Lget_name_by_idx")
                var buffer = [CChar](repeating: 0, count: length + 1)
                try checkStatus(
                    H5Lget_name_by_idx(
                        g.id, ".", H5_INDEX_NAME, H5_ITER_INC, index,
                        &buffer, length + 1, prunelab_h5p_default()),
                    file: path, .group(group), call: "H5Lget_name_by_idx")
                let name = String(
                    decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) },
                    as: UTF8.self)
                if objectType(at: name, in: g.id) == type { names.append(name) }
            }
            return names
        }
    }

    /// Whether a dataset exists at `path` (false for groups, missing paths and closed files).
    public func hasDataset(_ path: String) -> Bool {
        HDF5Library.locked {
            guard let id = try? openID(), linkExists(path, in: id) else { return false }
            return objectType(at: path, in: id) == H5I_DATASET
        }
    }

    /// Whether a group exists at `path`; the root `"/"` always does.
    public func hasGroup(_ path: String) -> Bool {
        HDF5Library.locked {
            guard let id = try? openID(), linkExists(path, in: id) else { return false }
            return objectType(at: path, in: id) == H5I_GROUP
        }
    }

    /// The dimensions of dataset `name`, outermost first (`[]` for a scalar dataset).
    public func shape(of name: String) throws -> [Int] {
        try HDF5Library.locked {
            let dataset = try openDataset(name)
            return try shape(ofDataset: dataset, name: name)
        }
    }

    /// How the elements of dataset `name` are stored.
    public func storedType(of name: String) throws -> HDF5StoredType {
        try HDF5Library.locked {
            let dataset = try openDataset(name)
            let type = try HDF5Handle.make(
                H5Dget_type(dataset.id), .datatype, file: path,
                .dataset(name), call: "H5Dget_type")
            return try storedType(ofType: type.id, .dataset(name))
        }
    }

    // MARK: - Groups

    /// Creates the group at `path` and any missing parents; an existing group is left as is.
    ///
    /// Throws when something other than a group already sits at `path`.
    public func createGroup(_ path: String) throws {
        try HDF5Library.locked {
            let id = try writableID(.group(path))
            if linkExists(path, in: id) {
                guard objectType(at: path, in: id) == H5I_GROUP else {
                    throw HDF5Error(file: self.path, .group(path), "exists and is not a group")
                }
                return
            }
            let lcpl = try linkCreationList(.group(path))
            _ = try HDF5Handle.make(
                H5Gcreate2(
                    id, path, lcpl.id, prunelab_h5p_default(),
                    prunelab_h5p_default()),
                .group, file: self.path, .group(path), call: "H5Gcreate2")
        }
    }

    // MARK: - Internal helpers (call inside HDF5Library.locked)

    /// The open file id, or an error when the file was closed.
    func openID() throws -> hid_t {
        guard fileID >= 0 else { throw HDF5Error(file: path, .file, "file is closed") }
        return fileID
    }

    /// The open file id, or an error when the file is closed or read-only.
    func writableID(_ subject: HDF5Error.Subject) throws -> hid_t {
        let id = try openID()
        guard isWritable else { throw HDF5Error(file: path, subject, "file is open read-only") }
        return id
    }

    /// Opens dataset `name`, with a "no such dataset" error when the path is missing.
    func openDataset(_ name: String) throws -> HDF5Handle {
        let id = try openID()
        guard linkExists(name, in: id) else {
            throw HDF5Error(file: path, .dataset(name), "no such dataset")
        }
        return try HDF5Handle.make(
            H5Dopen2(id, name, prunelab_h5p_default()), .dataset, file: path,
            .dataset(name), call: "H5Dopen2")
    }

    /// Opens the group or dataset at `objectPath` (for attributes).
    func openObject(_ objectPath: String) throws -> HDF5Handle {
        let id = try openID()
        guard linkExists(objectPath, in: id) else {
            throw HDF5Error(file: path, .object(objectPath), "no such group or dataset")
        }
        return try HDF5Handle.make(
            H5Oopen(id, objectPath, prunelab_h5p_default()), .object,
            file: path, .object(objectPath), call: "H5Oopen")
    }

    /// A link-creation property list that creates missing intermediate groups.
    func linkCreationList(_ subject: HDF5Error.Subject) throws -> HDF5Handle {
        let lcpl = try HDF5Handle.make(
            H5Pcreate(prunelab_h5p_link_create()), .propertyList,
            file: path, subject, call: "H5Pcreate")
        try checkStatus(
            H5Pset_create_intermediate_group(lcpl.id, 1), file: path, subject,
            call: "H5Pset_create_intermediate_group")
        return lcpl
    }

    /// Whether every link along `objectPath` exists (H5Lexists fails on a missing parent).
    func linkExists(_ objectPath: String, in location: hid_t) -> Bool {
        let parts = objectPath.split(separator: "/", omittingEmptySubsequences: true)
        var prefix = objectPath.hasPrefix("/") ? "/" : ""
        for part in parts {
            prefix += (prefix.isEmpty || prefix == "/") ? String(part) : "/" + part
            guard H5Lexists(location, prefix, prunelab_h5p_default()) > 0 else {
                _ = HDF5Library.takeErrorDetail()
                return false
            }
        }
        return true
    }

    /// The kind of object at `objectPath` below `location` (`H5I_BADID` when it cannot be opened).
    func objectType(at objectPath: String, in location: hid_t) -> H5I_type_t {
        let object = H5Oopen(location, objectPath, prunelab_h5p_default())
        guard object >= 0 else {
            _ = HDF5Library.takeErrorDetail()
            return H5I_BADID
        }
        defer { _ = H5Oclose(object) }
        return H5Iget_type(object)
    }

    /// The dimensions of an open dataset.
    func shape(ofDataset dataset: HDF5Handle, name: String) throws -> [Int] {
        let space = try HDF5Handle.make(
            H5Dget_space(dataset.id), .dataspace, file: path,
            .dataset(name), call: "H5Dget_space")
        return try shape(ofSpace: space.id, .dataset(name))
    }

    /// The dimensions of an open dataspace (`[]` for a scalar one).
    func shape(ofSpace space: hid_t, _ subject: HDF5Error.Subject) throws -> [Int] {
        let rank = try checkStatus(
            H5Sget_simple_extent_ndims(space), file: path, subject,
            call: "H5Sget_simple_extent_ndims")
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try checkStatus(
            H5Sget_simple_extent_dims(space, &dims, nil), file: path, subject,
            call: "H5Sget_simple_extent_dims")
        var shape: [Int] = []
        for d in dims {
            guard d <= hsize_t(Int32.max) else {
                throw HDF5Error(file: path, subject, "dimension \(d) is too large")
            }
            shape.append(Int(d))
        }
        let (_, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow else { throw HDF5Error(file: path, subject, "shape \(shape) is too large") }
        return shape
    }

    /// The widest integer or float read as a number (16 bytes: x86 long double as h5py stores it).
    static let widestNumber = 16

    /// Classifies an open datatype.
    func storedType(ofType type: hid_t, _ subject: HDF5Error.Subject) throws -> HDF5StoredType {
        let typeClass = H5Tget_class(type)
        guard typeClass != H5T_NO_CLASS else { throw HDF5Library.failure(path, subject, "H5Tget_class") }
        switch typeClass {
        case H5T_INTEGER:
            let size = H5Tget_size(type)
            guard size > 0 else { throw HDF5Library.failure(path, subject, "H5Tget_size") }
            // A corrupt file can declare a number several gigabytes wide; libhdf5 1.10.8 then
            // allocates conversion buffers of that size (found by fuzzing, results/reliability.md).
            guard size <= HDF5File.widestNumber else { return .other("\(size)-byte integer") }
            let sign = H5Tget_sign(type)
            guard sign != H5T_SGN_ERROR else { throw HDF5Library.failure(path, subject, "H5Tget_sign") }
            return .integer(bits: size * 8, signed: sign != H5T_SGN_NONE)
        case H5T_FLOAT:
            let size = H5Tget_size(type)
            guard size > 0 else { throw HDF5Library.failure(path, subject, "H5Tget_size") }
            guard size <= HDF5File.widestNumber else { return .other("\(size)-byte float") }
            return .float(bits: size * 8)
        case H5T_STRING: return .string
        case H5T_TIME: return .other("time")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_COMPOUND: return .other("compound")
        case H5T_REFERENCE: return .other("reference")
        case H5T_ENUM: return .other("enum")
        case H5T_VLEN: return .other("variable-length sequence")
        case H5T_ARRAY: return .other("array")
        default: return .other("type class \(typeClass.rawValue)")
        }
    }
}

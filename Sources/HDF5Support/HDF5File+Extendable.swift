import CHDF5

/// Datasets that grow along their first dimension, written a block of rows at a time
/// (trajectory stores): chunked, shuffled and gzip-compressed, with an unlimited first dimension.
extension HDF5File {
    /// Creates dataset `name` of shape `[0] + rowShape`, extendable along the first dimension,
    /// in chunks of `chunkRows` rows, through the shuffle and deflate (`gzipLevel`, 0...9) filters.
    /// Missing parent groups are created. Throws when the file is read-only or `name` exists.
    public func createExtendableDataset<T: HDF5Scalar>(
        _ name: String, of type: T.Type, rowShape: [Int], chunkRows: Int, gzipLevel: Int = 4
    ) throws {
        precondition(chunkRows >= 1 && rowShape.allSatisfy { $0 >= 1 }, "bad chunking \(chunkRows) x \(rowShape) for '\(name)'")
        precondition((0...9).contains(gzipLevel), "gzip level \(gzipLevel) is not in 0...9")
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.dataset(name)
            let id = try writableID(subject)
            guard !linkExists(name, in: id) else { throw HDF5Error(file: path, subject, "already exists") }
            let dims = [hsize_t(0)] + rowShape.map { hsize_t($0) }
            let maxDims = [prunelab_h5s_unlimited()] + rowShape.map { hsize_t($0) }
            let space = try HDF5Handle.make(
                H5Screate_simple(Int32(dims.count), dims, maxDims), .dataspace, file: path, subject, call: "H5Screate_simple")
            let dcpl = try HDF5Handle.make(
                H5Pcreate(prunelab_h5p_dataset_create()), .propertyList, file: path, subject, call: "H5Pcreate")
            let chunk = [hsize_t(chunkRows)] + rowShape.map { hsize_t($0) }
            try checkStatus(H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk), file: path, subject, call: "H5Pset_chunk")
            try checkStatus(H5Pset_shuffle(dcpl.id), file: path, subject, call: "H5Pset_shuffle")
            try checkStatus(H5Pset_deflate(dcpl.id, UInt32(gzipLevel)), file: path, subject, call: "H5Pset_deflate")
            let lcpl = try linkCreationList(subject)
            _ = try HDF5Handle.make(
                H5Dcreate2(id, name, T.hdf5Type.nativeType, space.id, lcpl.id, dcpl.id, prunelab_h5p_default()),
                .dataset, file: path, subject, call: "H5Dcreate2")
        }
    }

    /// Appends `rows` rows (`values`, row-major, `rows * rowSize` of them) to extendable dataset
    /// `name`: extends it with `H5Dset_extent` and writes the new rows as one hyperslab.
    /// Returns the dataset's row count after the append.
    @discardableResult
    public func appendRows<T: HDF5Scalar>(_ name: String, _ values: [T], rows: Int) throws -> Int {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.dataset(name)
            _ = try writableID(subject)
            let dataset = try openDataset(name)
            let shape = try shape(ofDataset: dataset, name: name)
            precondition(
                !shape.isEmpty && values.count == rows * shape.dropFirst().reduce(1, *),
                "\(values.count) values for \(rows) rows of \(shape)")
            let newDims = [hsize_t(shape[0] + rows)] + shape.dropFirst().map { hsize_t($0) }
            try checkStatus(H5Dset_extent(dataset.id, newDims), file: path, subject, call: "H5Dset_extent")
            let fileSpace = try HDF5Handle.make(H5Dget_space(dataset.id), .dataspace, file: path, subject, call: "H5Dget_space")
            let start = [hsize_t(shape[0])] + shape.dropFirst().map { _ in hsize_t(0) }
            let count = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
            try checkStatus(
                H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, start, nil, count, nil), file: path, subject,
                call: "H5Sselect_hyperslab")
            let memSpace = try HDF5Handle.make(
                H5Screate_simple(Int32(count.count), count, nil), .dataspace, file: path, subject, call: "H5Screate_simple")
            let status = values.withUnsafeBufferPointer {
                H5Dwrite(dataset.id, T.hdf5Type.nativeType, memSpace.id, fileSpace.id, prunelab_h5p_default(), $0.baseAddress)
            }
            try checkStatus(status, file: path, subject, call: "H5Dwrite")
            return shape[0] + rows
        }
    }

    /// Overwrites the whole of existing dataset `name` with `values` (its element count).
    public func overwrite<T: HDF5Scalar>(_ name: String, _ values: [T]) throws {
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.dataset(name)
            _ = try writableID(subject)
            let dataset = try openDataset(name)
            let shape = try shape(ofDataset: dataset, name: name)
            precondition(shape.reduce(1, *) == values.count, "\(values.count) values for dataset \(name) of shape \(shape)")
            let status = values.withUnsafeBufferPointer {
                H5Dwrite(dataset.id, T.hdf5Type.nativeType, prunelab_h5s_all(), prunelab_h5s_all(), prunelab_h5p_default(), $0.baseAddress)
            }
            try checkStatus(status, file: path, subject, call: "H5Dwrite")
        }
    }

    /// Switches the file to single-writer/multiple-reader mode (`H5Fstart_swmr_write`): after
    /// it, datasets may grow but none may be created, and each `flush()` is a consistent state.
    public func startSingleWriter() throws {
        try HDF5Library.locked {
            let id = try writableID(.file)
            try checkStatus(H5Fstart_swmr_write(id), file: path, .file, call: "H5Fstart_swmr_write")
        }
    }

    /// Writes everything buffered to disk (`H5Fflush`, global scope).
    public func flush() throws {
        try HDF5Library.locked {
            let id = try writableID(.file)
            try checkStatus(H5Fflush(id, H5F_SCOPE_GLOBAL), file: path, .file, call: "H5Fflush")
        }
    }
}

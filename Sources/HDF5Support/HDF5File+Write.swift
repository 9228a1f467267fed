import CHDF5

extension HDF5File {
    /// Writes `values` as a new dataset `name` of `shape`, creating missing parent groups.
    ///
    /// `values` is row-major over `shape`; `shape` `[]` writes a scalar dataset of one value.
    /// The element type is `T`'s native type (little-endian on x86 and arm64). With `gzipLevel`
    /// (0...9) the data is chunked (chunks of up to ~1 MiB, split along the leading dimensions)
    /// and passed through the shuffle and deflate filters; empty datasets are never compressed.
    /// Throws when the file is read-only or something already exists at `name`.
    public func writeDataset<T: HDF5Scalar>(
        _ name: String, shape: [Int], values: [T],
        gzipLevel: Int? = nil
    ) throws {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape) for '\(name)'")
        precondition(
            shape.reduce(1, *) == values.count,
            "shape \(shape) holds \(shape.reduce(1, *)) values, got \(values.count) for '\(name)'")
        if let level = gzipLevel { precondition((0...9).contains(level), "gzip level \(level) is not in 0...9") }
        try HDF5Library.locked {
            let subject = HDF5Error.Subject.dataset(name)
            let id = try writableID(subject)
            guard !linkExists(name, in: id) else { throw HDF5Error(file: path, subject, "already exists") }

            let dims = shape.map { hsize_t($0) }
            let spaceID = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
            let space = try HDF5Handle.make(
                spaceID, .dataspace, file: path, subject,
                call: shape.isEmpty ? "H5Screate" : "H5Screate_simple")
            let dcpl = try HDF5Handle.make(
                H5Pcreate(prunelab_h5p_dataset_create()), .propertyList,
                file: path, subject, call: "H5Pcreate")
            if let level = gzipLevel, !shape.isEmpty, !values.isEmpty {
                let chunk = Self.chunkShape(shape, elementSize: MemoryLayout<T>.stride).map { hsize_t($0) }
                try checkStatus(
                    H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk), file: path, subject,
                    call: "H5Pset_chunk")
                try checkStatus(H5Pset_shuffle(dcpl.id), file: path, subject, call: "H5Pset_shuffle")
                try checkStatus(
                    H5Pset_deflate(dcpl.id, UInt32(level)), file: path, subject,
                    call: "H5Pset_deflate")
            }
            let lcpl = try linkCreationList(subject)
            let nativeType = T.hdf5Type.nativeType
            let dataset = try HDF5Handle.make(
                H5Dcreate2(id, name, nativeType, space.id, lcpl.id, dcpl.id, prunelab_h5p_default()),
                .dataset, file: path, subject, call: "H5Dcreate2")
            guard !values.isEmpty else { return }
            let status = values.withUnsafeBufferPointer { buffer in
                H5Dwrite(
                    dataset.id, nativeType, prunelab_h5s_all(), prunelab_h5s_all(),
                    prunelab_h5p_default(), buffer.baseAddress)
            }
            try checkStatus(status, file: path, subject, call: "H5Dwrite")
        }
    }

    /// A chunk shape for `shape`: the whole dataset, halving leading dimensions until it is
    /// at most 1 MiB (a chunk of one row of trailing dimensions may still exceed that).
    static func chunkShape(_ shape: [Int], elementSize: Int) -> [Int] {
        var chunk = shape
        let limit = 1 << 20
        var axis = 0
        while axis < chunk.count, chunk.reduce(elementSize, *) > limit {
            if chunk[axis] > 1 {
                chunk[axis] = (chunk[axis] + 1) / 2
            } else {
                axis += 1
            }
        }
        return chunk
    }
}

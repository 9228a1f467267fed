// Fuzz target: the HDF5 image-set validator (`HDF5ImageSet.load`) on a file holding the input
// bytes (libhdf5 reads files, not buffers). A thrown HDF5Error or DatasetError is a correct
// outcome; a trap or crash is a finding, inside libhdf5 too (reported, see results/reliability.md).
import Foundation
import Datasets

private let path = FileManager.default.temporaryDirectory
    .appendingPathComponent("prunelab-fuzz-hdf5-\(ProcessInfo.processInfo.processIdentifier).h5").path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    if let split = try? HDF5ImageSet.load(trainFile: path) {
        precondition(split.train.images.rows == split.train.labels.count && split.train.labels.count > 0)
        precondition(split.test.images.rows == split.test.labels.count)
    }
    _ = try? HDF5ImageSet.load(trainFile: path, keys: .catvnoncat, classCount: 2)
    return 0
}

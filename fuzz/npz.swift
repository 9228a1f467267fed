// Fuzz target: the .npy parser and the .npz (zip) reader on raw bytes. Any thrown DatasetError is
// a correct outcome; a trap, a crash or a leak of memory safety is a finding. A parsed array's
// elements must agree with its shape, in every accessor.
import Datasets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPZ(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var arrays: [NumpyArray] = []
    if let a = try? NumpyArray.parse(bytes, file: "fuzz.npy") { arrays.append(a) }
    if let archive = try? NPZFile(bytes: bytes, path: "fuzz.npz"), let members = try? archive.arrays() {
        arrays += members.map(\.array)
    }
    for a in arrays {
        precondition(a.doubles().count == a.count, "\(a.doubles().count) elements for shape \(a.shape)")
        precondition(a.floats().count == a.count)
    }
    return 0
}

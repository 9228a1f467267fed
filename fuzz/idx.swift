// Fuzz target: the IDX reader on raw (already inflated) bytes. Any thrown DatasetError is a
// correct outcome; a trap, a crash or a leak of memory safety is a finding. When the bytes parse,
// the element accessors must agree with the header (count = product of the shape).
import Datasets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let array = try? IDXReader.parse(bytes, file: "fuzz.idx") else { return 0 }
    let count = array.shape.reduce(1, *)
    precondition(array.count == count, "count \(array.count) disagrees with shape \(array.shape)")
    precondition(array.floatValues().count == count)
    if let ints = array.integerValues() { precondition(ints.count == count) }
    if let unit = array.unitScaledFloats() { precondition(unit.count == count) }
    return 0
}

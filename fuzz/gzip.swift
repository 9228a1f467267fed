// Fuzz target: the gzip inflater (zlib behind `Gzip.inflate`). A thrown DatasetError is a
// correct outcome; a trap or crash is a finding. Inflated output is bounded by libFuzzer's
// input size times deflate's ~1032:1 ratio, so memory stays small.
import Datasets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let out = try? Gzip.inflate(bytes, file: "fuzz.gz") {
        // what came out parses (or is refused) as IDX without trapping, as MNIST loading would do
        _ = try? IDXReader.parse(out, file: "fuzz.gz")
    }
    return 0
}

// Fuzz target: the strict config decoder with `--set` overrides. Input: the config JSON, then
// zero or more overrides (`key.path=value`), separated by NUL bytes. A thrown error is a correct
// outcome; a trap or crash is a finding. A config that decodes must survive its own canonical
// JSON (config.json in a run folder): decoding that again gives an equal config.
import Foundation
import Experiments

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0, omittingEmptySubsequences: false)
    guard let first = parts.first else { return 0 }
    let overrides = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    guard let config = try? ConfigLoader.decode(Data(first), overrides: overrides) else { return 0 }
    let canonical = try! ConfigLoader.canonicalJSON(config)  // encoding a decoded config cannot fail
    let again = try? ConfigLoader.decode(canonical)
    precondition(again == config, "canonical JSON does not decode to the same config: \(String(decoding: canonical, as: UTF8.self))")
    _ = try? StepBudget.checkDurations(in: config, perEpoch: 469)
    return 0
}

import ArgumentParser
import Foundation
import Experiments

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run dense, Han, gradual magnitude, the dynamic criteria and (conv nets) L1/FPGM filter pruning from one config on the same seeds.")

    @Argument(help: "The base config (its pruning block holds both Han and dynamic keys).")
    var config: String

    @Option(name: .long, help: "The comparison folder to write.")
    var out: String

    @Option(help: "Comma-separated seeds.")
    var seeds = "1,2,3"

    @Option(help: "Comma-separated methods (dense, han, gmp, linear, stalled, movement, l1, fpgm); default: all that apply (l1 and fpgm need conv layers).")
    var methods: String?

    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Overwrite finished run folders.")
    var force = false

    func validate() throws {
        guard seeds.split(separator: ",").allSatisfy({ UInt64($0.trimmingCharacters(in: .whitespaces)) != nil }) else {
            throw ValidationError("--seeds takes comma-separated non-negative integers, got \"\(seeds)\"")
        }
    }

    func run() throws {
        try reportingErrors {
            let base = try ConfigLoader.load(path: config, overrides: overrides)
            let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            let methodList = try methods.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                ?? Compare.defaultMethods(for: base)
            try Compare.run(base: base, seeds: seedList, methods: methodList, outDir: out, force: force) {
                FileHandle.standardError.write(Data("\($0)\n".utf8))
            }
            print("comparison: \(out)/comparison.md, \(out)/comparison.csv, \(out)/timing.csv")
        }
    }
}

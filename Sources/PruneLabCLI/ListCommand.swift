import ArgumentParser
import Foundation
import Experiments

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List what the registries hold: methods, criteria, schedules, arms, presets, formats, keys.",
        discussion: "Everything printed comes from the registries in the code, as do the key tables of configs/README.md.")

    @Argument(help: "methods, criteria, schedules, arms, presets, formats or keys (default: all but keys).")
    var kind: String?

    @Option(help: "For `arms`: the base config whose model decides which arms apply.")
    var config: String?

    func run() throws {
        try reportingErrors {
            let base = try config.map { try ConfigLoader.load(path: $0) }
            let kinds = kind.map { [$0] } ?? Catalog.kinds.filter { $0 != "keys" }
            for (i, k) in kinds.enumerated() {
                if kinds.count > 1 { print((i > 0 ? "\n" : "") + "\(k):") }
                print(try Catalog.text(k, base: base))
            }
        }
    }
}

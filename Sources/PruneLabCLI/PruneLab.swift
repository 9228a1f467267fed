import ArgumentParser
import Foundation
import Experiments

@main
struct PruneLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prunelab",
        abstract: "Prune neural networks while they train, and compare against post-training pruning.",
        version: RunInfo.toolVersion,
        subcommands: [
            RunCommand.self, CompareCommand.self, SweepCommand.self, AggregateCommand.self, InspectCommand.self, BenchCommand.self,
            TrajectoriesCommand.self, PredictabilityCommand.self, ReportCommand.self, ListCommand.self, QuantizeCommand.self,
            PredictCommand.self, ExportCommand.self,
        ]
    )

    static func main() {
        // the BLAS kernel is chosen before anything calls BLAS; bench's test hook chooses later.
        // Help and version call no BLAS: a user's OPENBLAS_CORETYPE the CPU cannot run must not
        // hide them (the check would end the process before ArgumentParser prints them).
        let args = CommandLine.arguments.dropFirst()
        let informational = args.contains { ["-h", "--help", "--version"].contains($0) } || args.first == "help"
        do {
            if !informational { try ProcessSetup.prepare(selectBLAS: !args.contains("--simulate-blas-pick")) }
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // --help, --version and errors already reported by `reportingErrors` keep
            // ArgumentParser's behaviour; its usage errors become one `prunelab: error:` line
            // (then the usage line) and exit 1, like every other error, instead of "Error: ..." and 64.
            if error is ExitCode || exitCode(for: error) == .success { exit(withError: error) }
            let lines = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var first = lines.first ?? "\(error)"
            if first.hasPrefix("Error: ") { first.removeFirst("Error: ".count) }
            // the usage line only: an error is at most two lines (the help is one --help away)
            let usage = lines.dropFirst().filter { $0.hasPrefix("Usage:") }.prefix(1)
            FileHandle.standardError.write(Data((["prunelab: error: \(first)"] + usage).joined(separator: "\n").utf8 + [10]))
            Foundation.exit(1)
        }
    }
}

/// Refuses a path option given as `''` (or blanks), which would otherwise mean the working
/// directory: `--out ''` must not write into, or clear, the folder the command runs in.
func requirePath(_ value: String?, _ option: String, _ example: String) throws {
    guard let value, value.trimmingCharacters(in: .whitespaces).isEmpty else { return }
    throw ValidationError("\(option) is empty; give a path, e.g. \(option) \(example)")
}

/// Prints a library error as one line on stderr and exits non-zero; the CLI's only error path.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as RunInterrupted {
        FileHandle.standardError.write(Data("prunelab: \(e)\n".utf8))
        throw ExitCode(e.exitCode)
    } catch {
        FileHandle.standardError.write(Data("prunelab: error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

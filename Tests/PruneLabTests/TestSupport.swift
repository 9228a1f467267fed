import Testing
import Foundation

/// What several test files share: the repository's root, one way to launch a subprocess, and
/// the skip policy for tools outside the package.
enum TestSupport {
    /// The repository's root (the folder holding Package.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether the tests run in CI: `.ci/run` exports `PRUNELAB_CI=1`.
    static var inCI: Bool { ProcessInfo.processInfo.environment["PRUNELAB_CI"] != nil }

    /// A finished subprocess: its exit status and what it wrote.
    struct ProcessResult {
        var status: Int32
        /// False when a signal ended it.
        var exited: Bool
        var stdout: Data
        var stderr: Data
        var output: String { String(decoding: stdout, as: UTF8.self) }
        var errors: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs `executable` (a path, or a name looked up on PATH through /usr/bin/env) with
    /// `arguments` to its end, reading both pipes concurrently so neither can fill and stall it.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil
    ) throws -> ProcessResult {
        let p = Process()
        if executable.hasPrefix("/") {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [executable] + arguments
        }
        if let environment { p.environment = environment }
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError) = (out, err)
        try p.run()
        final class Collected: @unchecked Sendable { var data = Data() }
        let errors = Collected(), reading = DispatchGroup(), errorHandle = err.fileHandleForReading
        DispatchQueue.global().async(group: reading) { errors.data = errorHandle.readDataToEndOfFile() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        reading.wait()
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, exited: p.terminationReason == .exit, stdout: output, stderr: errors.data)
    }

    /// A python3 failure: its exit status and the end of what it wrote to stderr.
    struct PythonFailed: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "python3 exited with \(status): \(stderr.suffix(600))" }
    }

    /// Runs python3 with `arguments`; returns stdout, or throws when it exits non-zero.
    static func python(_ arguments: [String]) throws -> String {
        let r = try run("python3", arguments)
        guard r.status == 0 else { throw PythonFailed(status: r.status, stderr: r.errors) }
        return r.output
    }

    /// Whether python3 can import `modules` (comma-separated, as in an import statement).
    static func pythonImports(_ modules: String) -> Bool { (try? python(["-c", "import \(modules)"])) != nil }
}

/// A tool or data set outside the package that a test needs (a python package, chromium, a
/// Debian data set). The one skip policy: where it is missing the test is skipped with the
/// install hint, except in CI (`PRUNELAB_CI` set), where `scripts/deps.sh` installs everything
/// and a missing requirement fails the test.
struct ExternalRequirement: Sendable {
    let name: String
    let install: String
    let present: Bool

    init(_ name: String, install: String, present: Bool) {
        self.name = name
        self.install = install
        self.present = present
    }

    /// A python3 module set, present when `import <modules>` succeeds.
    static func python(_ modules: String, install: String = "bash scripts/deps.sh installs it") -> ExternalRequirement {
        ExternalRequirement("python3 with \(modules)", install: install, present: TestSupport.pythonImports(modules))
    }

    /// The trait of a test that needs this: disabled where missing, outside CI.
    var trait: ConditionTrait { trait(inCI: TestSupport.inCI) }

    func trait(inCI: Bool) -> ConditionTrait { .enabled(if: present || inCI, "\(name) is missing: \(install)") }

    /// For a test that runs (its trait let it, or it needs this for one part only): true when
    /// present; otherwise false, with a recorded issue in CI and a printed notice elsewhere.
    func isMet(for what: String, inCI: Bool = TestSupport.inCI, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if present { return true }
        if inCI {
            Issue.record("\(name) is required in CI (\(what)): \(install)", sourceLocation: sourceLocation)
        } else {
            print("notice: \(name) is missing; skipping \(what) (\(install))")
        }
        return false
    }
}

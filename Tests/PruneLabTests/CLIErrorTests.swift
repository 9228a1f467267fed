import Testing
import Foundation

/// Command-line mistakes get the config errors' contract: the first stderr line is
/// `prunelab: error: ...`, the exit status is 1 (ArgumentParser's own usage errors used to print
/// `Error: ...` and exit 64), usage may follow, never a stack trace.
@Suite struct CLIErrorTests {
    func run(_ args: [String], in dir: URL? = nil) throws -> (status: Int32, stderr: String) {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let r = try TestSupport.run(exe.path, args, in: dir ?? TestSupport.root)
        return (r.status, r.errors)
    }

    func expectError(_ args: [String], _ mention: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try run(args)
        #expect(r.status == 1, "exit \(r.status) for \(args): \(r.stderr)", sourceLocation: sourceLocation)
        let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("prunelab: error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(first.contains(mention), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(
            !r.stderr.contains("Error: ") && !r.stderr.contains("Fatal error") && !r.stderr.contains("Backtrac"),
            "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    }

    static let compare = "configs/mnist-lenet300-compare.json"

    @Test func usageErrorsAreOneLineAndExitOne() throws {
        try expectError(["run"], "give a config (or --resume DIR)")
        try expectError(["run", "x.json"], "give --out DIR, the run folder to write")
        try expectError(["run", "x.json", "--out"], "Missing value for '--out <out>'")
        try expectError(["bogus"], "Unexpected argument 'bogus'")
        try expectError(["run", "x.json", "--out", "o", "--frobnicate"], "Unknown option '--frobnicate'")
        try expectError(["bench", "--epochs", "two"], "--epochs")
    }

    /// Negative numbers reach validation (instead of "Missing value") and are refused by name.
    @Test func negativeNumbersAreValidated() throws {
        try expectError(
            ["compare", Self.compare, "--out", "/nonexistent/o", "--seeds", "-1"],
            "--seeds takes comma-separated non-negative integers, got \"-1\"")
        try expectError(["bench", "--threads", "-2"], "--threads must be >= 0, got -2")
        try expectError(["bench", "--repeats", "-1"], "--epochs and --repeats must be > 0")
        try expectError(["trajectories", "/nonexistent", "--every", "-3"], "--every must be > 0, got -3")
    }

    @Test func emptyMethodsAreRefused() throws {
        try expectError(["compare", Self.compare, "--out", "/nonexistent/o", "--methods", ""], "--methods")
        try expectError(["compare", Self.compare, "--out", "/nonexistent/o", "--methods", "han,,linear"], "--methods")
    }

    /// Item 5 end to end: the key is named, the shipped config's own file name leads the line.
    @Test func configValueErrorsThroughTheCommandLine() throws {
        let han = "configs/mnist-lenet300-han.json"
        try expectError(
            ["run", han, "--out", "/nonexistent/o", "--set", "seed=-1"], "\(han): key 'seed': must be a non-negative integer, got -1")
        try expectError(
            ["run", han, "--out", "/nonexistent/o", "--set", "pruning.han.rounds=1.5"],
            "key 'pruning.han.rounds': must be an integer, got 1.5")
        try expectError(
            ["run", han, "--out", "/nonexistent/o", "--set", "training.optimizer=adamw"], #"must be one of sgd, adam; got "adamw""#)
    }

    @Test func helpAndVersionStillExitZero() throws {
        #expect(try run(["--help"]).status == 0)
        #expect(try run(["run", "--help"]).status == 0)
        #expect(try run(["--version"]).status == 0)
    }

    /// `inspect` on a run folder whose summary.csv is missing or cut short names the file.
    @Test func inspectNamesAMissingOrTruncatedSummary() throws {
        try withScratchFolder("inspect") { dir in
            let layers = "layer,shape,weights,nonzero,sparsity,dense_flops,sparse_flops\nfc1,2x2,4,2,0.5,10,5\n"
            try layers.write(to: dir.appendingPathComponent("layers.csv"), atomically: true, encoding: .utf8)
            let summary = dir.appendingPathComponent("summary.csv")
            try expectError(["inspect", dir.path], "\(dir.path)/summary.csv")
            try "name,method,test_accuracy,sparsity\nx,dense,0.9".write(to: summary, atomically: true, encoding: .utf8)
            try expectError(["inspect", dir.path], "\(dir.path)/summary.csv: truncated")
            try "name,method,test_accuracy,sparsity\nx,dense\n".write(to: summary, atomically: true, encoding: .utf8)
            try expectError(["inspect", dir.path], "\(dir.path)/summary.csv: truncated")
            try "name,method,test_accuracy,sparsity\n".write(to: summary, atomically: true, encoding: .utf8)
            try expectError(["inspect", dir.path], "\(dir.path)/summary.csv")
            try "name,method,test_accuracy,sparsity\nx,dense,0.9,0.5\n".write(to: summary, atomically: true, encoding: .utf8)
            #expect(try run(["inspect", dir.path]).status == 0)
        }
    }

    /// SLURM flags that would break their `#SBATCH` line or the script are one-line errors
    /// naming the flag, and no sweep folder is written.
    @Test func badSlurmFlagsNameTheFlag() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-slurmflags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try EndToEndTests.mnistConfig().write(to: dir.appendingPathComponent("base.json"), atomically: true, encoding: .utf8)
        let sweep = dir.appendingPathComponent("sweep.json")
        try #"{"base": "base.json", "axes": {"seed": [1]}}"#.write(to: sweep, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let base = ["sweep", sweep.path, "--out", out, "--backend", "slurm", "--dry-run"]
        try expectError(base + ["--account", "proj 42"], "--account must not contain spaces")
        try expectError(base + ["--qos", "a\nb"], "--qos must be one line")
        try expectError(base + ["--job-name", ""], "--job-name must not be empty")
        try expectError(base + ["--setup", "module load x\nexport Y=1"], "--setup must be one line")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

import Testing
import Foundation
@testable import Schema
@testable import Experiments

/// Config mistakes get an answer that says how to fix them: the key, the form it takes and an
/// example, never Foundation's decoder sentence; the whole stderr is one or two lines, exit 1,
/// and nothing is created.
@Suite struct FixableErrorTests {
    static let config = "configs/mnist-lenet300-compare.json"
    static let small = ["--set", "data.train_limit=1000", "--set", "data.test_limit=200"]

    /// Runs the CLI in `dir` (default the repository) and returns its one error line, after
    /// checking exit 1 and that stderr holds one or two lines (the error, maybe the usage).
    static func errorLine(_ args: [String], in dir: URL? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try CLIErrorTests().run(args, in: dir)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect((1...2).contains(lines.count), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        if lines.count == 2 { #expect(lines[1].hasPrefix("Usage: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation) }
        for phrase in ["Expected to decode", "but found", "debugDescription", "Fatal error", "Error: "] {
            #expect(!r.stderr.contains(phrase), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        }
        let first = lines.first ?? ""
        #expect(first.hasPrefix("prunelab: error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        return first
    }

    static func run(_ extra: [String], out: String = "/nonexistent/o") -> [String] {
        ["run", config, "--out", out] + small + extra
    }

    @Test func durationGivenAsANumberShowsBothForms() throws {
        let line = try Self.errorLine(Self.run(["--set", "pruning.method=dynamic", "--set", "pruning.dynamic.cubic.end=10"]))
        #expect(
            line
                == #"prunelab: error: \#(Self.config): key 'pruning.dynamic.cubic.end': a duration is a string such as "10ep" (epochs) "#
                + #"or "500it" (optimizer steps); got the number 10: write "10ep" or "10it""#)
        let word = try Self.errorLine(Self.run(["--set", "training.eval_every=often"]))
        #expect(
            word.hasSuffix(
                #"key 'training.eval_every': "often" is not a duration: write a whole number and a unit, "#
                    + #"e.g. "10ep" (epochs) or "500it" (optimizer steps)"#))
    }

    @Test func wrongTypesNameTheKeyTheFormAndWhatWasGiven() throws {
        #expect(
            try Self.errorLine(Self.run(["--set", "training.epochs=two"]))
                == #"prunelab: error: \#(Self.config): key 'training.epochs': must be an integer, e.g. 20; got the string "two""#)
        #expect(
            try Self.errorLine(Self.run(["--set", "training.learning_rate=fast"])).hasSuffix(
                #"key 'training.learning_rate': must be a number, e.g. 0.1; got the string "fast""#))
        #expect(
            try Self.errorLine(Self.run(["--set", "training.momentum=[0.9]"])).hasSuffix(
                "key 'training.momentum': must be a number, e.g. 0.1; got a list"))
        #expect(
            try Self.errorLine(Self.run(["--set", "pruning.exclude=3"])).hasSuffix(
                "key 'pruning.exclude': must be a list, e.g. [1, 2]; got the number 3"))
    }

    /// Trailing commas are refused with their line and column, in a file and in a `--set` value.
    @Test func trailingCommasAreRefused() throws {
        try withScratchFolder("trailing-comma") { dir in
            let file = dir.appendingPathComponent("c.json")
            let text = try String(contentsOf: TestSupport.root.appendingPathComponent(Self.config), encoding: .utf8)
            // a comma after the model section's last entry
            let edited = text.replacingOccurrences(of: #""init": "he""#, with: #""init": "he","#)
            #expect(edited != text)
            try edited.write(to: file, atomically: true, encoding: .utf8)
            let lines = edited.split(separator: "\n", omittingEmptySubsequences: false)
            let row = try #require(lines.firstIndex { $0.contains(#""init": "he","#) })
            let column = try #require(lines[row].lastIndex(of: ",")).utf16Offset(in: lines[row]) + 1
            let line = try Self.errorLine(["run", file.path, "--out", dir.appendingPathComponent("o").path])
            #expect(
                line
                    == "prunelab: error: \(file.path): invalid JSON: a comma before } at line \(row + 1), column \(column); "
                    + "JSON allows no trailing comma")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("o").path))
        }
        #expect(
            try Self.errorLine(Self.run(["--set", #"pruning.exclude=["fc3",]"#])).hasSuffix(
                "key 'pruning.exclude': invalid JSON: a comma before ] at line 1, column 7; JSON allows no trailing comma "
                    + "(in --set pruning.exclude=...)"))
    }

    /// `--out ''` would be the working directory: refused, and the directory stays empty.
    @Test func emptyPathsAreRefused() throws {
        try withScratchFolder("empty-out") { dir in
            let config = TestSupport.root.appendingPathComponent(Self.config).path
            let out = try Self.errorLine(["run", config, "--out", ""], in: dir)
            #expect(out == "prunelab: error: --out is empty; give a path, e.g. --out runs/lenet")
            let resume = try Self.errorLine(["run", "--resume", " "], in: dir)
            #expect(resume.contains("--resume is empty"))
            let report = try Self.errorLine(["report", config, "--out", ""], in: dir)
            #expect(report.contains("--out is empty"))
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(left.isEmpty)
        }
        let error = #expect(throws: RunError.self) {
            try Runner.run(try RunFolderTests.config(), options: RunOptions(outDir: "", progress: false))
        }
        #expect(error?.description.contains("path is empty") == true)
    }

    /// Errors found against the model or the data come before the run folder exists, and name
    /// the config file.
    @Test func checksAgainstTheModelComeBeforeTheFolder() throws {
        try withScratchFolder("late-config") { dir in
            let out = dir.appendingPathComponent("run").path
            let ramp = try Self.errorLine(
                Self.run(["--set", "pruning.method=dynamic", "--set", #"pruning.dynamic.cubic.end="100ep""#], out: out))
            // 1000 images in batches of 128: 8 steps an epoch, 20 epochs
            #expect(
                ramp
                    == #"prunelab: error: \#(Self.config): key 'pruning.dynamic.cubic.end': 100ep is after the end of training "#
                    + #"(160 steps); give at most "160it" or "20ep""#)
            let layer = try Self.errorLine(
                Self.run(["--set", "recording.enabled=true", "--set", #"recording.layers=["fc9"]"#], out: out))
            #expect(layer.hasSuffix(#"key 'recording.layers': "fc9" is not a prunable layer; prunable layers: fc1, fc2, fc3"#))
            let han = try Self.errorLine(
                Self.run(["--set", "pruning.method=han", "--set", #"pruning.layer_sparsity={"fc9": 0.5}"#], out: out))
            #expect(han.contains("fc9"))
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(left.isEmpty)
        }
    }
}

@Suite struct TrailingCommaTests {
    @Test(arguments: [
        (#"{"a": 1,}"#, TrailingCommas.Found(line: 1, column: 8, closes: "}")),
        ("{\"a\": [1, 2,\n  ]}", TrailingCommas.Found(line: 1, column: 12, closes: "]")),
        ("{\"a\": {\"b\": 1}\n,\n}", TrailingCommas.Found(line: 2, column: 1, closes: "}")),
        (#"[1, [2, 3,], 4]"#, TrailingCommas.Found(line: 1, column: 10, closes: "]")),
    ])
    func trailingCommaIsFound(json: String, found: TrailingCommas.Found) {
        #expect(TrailingCommas.first(in: Data(json.utf8)) == found)
    }

    @Test(arguments: [
        #"{"a": 1, "b": [1, 2]}"#,
        #"{"a": ",}", "b": "x,]"}"#,
        #"{"a\",}": 1}"#,
        #"[]"#,
        "{\n  \"a\": 1\n}\n",
    ])
    func validJSONPasses(json: String) {
        #expect(TrailingCommas.first(in: Data(json.utf8)) == nil)
    }
}

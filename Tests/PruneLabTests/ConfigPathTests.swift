import Testing
import Foundation
@testable import Experiments

/// Relative paths in a config file resolve against the file's folder, `--set` paths against
/// the working directory; run.json's git_commit is PruneLab's own.
@Suite struct ConfigPathTests {
    @Test func fileRelativePathsResolveAgainstTheConfigFolder() throws {
        try withScratchFolder("paths") { dir in
            let configs = dir.appendingPathComponent("deep/configs")
            try FileManager.default.createDirectory(at: configs, withIntermediateDirectories: true)
            let file = configs.appendingPathComponent("x.json")
            try
                #"{"data": {"format": "hdf5", "train_file": "../data/train.h5", "test_file": "/abs/test.h5"}, "model": {"preset": "lenet-300-100", "init_file": "init/w.h5"}}"#
                .write(to: file, atomically: true, encoding: .utf8)
            let c = try ConfigLoader.load(path: file.path)
            #expect(c.data.trainFile == dir.appendingPathComponent("deep/data/train.h5").standardizedFileURL.path)
            #expect(c.data.testFile == "/abs/test.h5")
            #expect(c.model.initFile == configs.appendingPathComponent("init/w.h5").standardizedFileURL.path)
            // --set values: from the working directory
            let cwd = FileManager.default.currentDirectoryPath
            let o = try ConfigLoader.load(path: file.path, overrides: ["data.train_file=elsewhere/t.h5", "model.init_file=null"])
            #expect(
                o.data.trainFile
                    == URL(fileURLWithPath: "elsewhere/t.h5", relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL
                    .path)
            #expect(o.model.initFile == nil)
        }
    }

    /// `prunelab run /abs/configs/x.json` from an unrelated folder: the shipped config's
    /// `../data/...` paths work, config.json holds absolute paths, git_commit is the build's.
    @Test func shippedConfigRunsFromAnyFolder() throws {
        let exe = try #require(CLITests.binary)
        try withScratchFolder("anywhere") { dir in
            let out = dir.appendingPathComponent("run")
            let r = try TestSupport.run(
                exe.path,
                [
                    "run", TestSupport.root.appendingPathComponent("configs/catvnoncat-4layer.json").path,
                    "--out", out.path, "--set", "training.steps=3", "--no-progress",
                ], in: dir)
            #expect(r.status == 0, "\(r.errors)")
            let config = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
            let train = try #require((config["data"] as? [String: Any])?["train_file"] as? String)
            #expect(train == TestSupport.root.appendingPathComponent("data/catvnoncat/train_catvnoncat.h5").standardizedFileURL.path)
            let info = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("run.json"))) as? [String: Any])
            let head = try TestSupport.run("git", ["-C", TestSupport.root.path, "rev-parse", "--short=12", "HEAD"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(info["git_commit"] as? String == head)
            #expect(BuildInfo.gitCommit == head)
        }
    }
}

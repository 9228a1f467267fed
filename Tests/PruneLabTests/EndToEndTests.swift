import Testing
import Foundation
import TensorCore
import NN
import Training
@testable import Experiments

/// Short real-data runs through the whole stack: config ▶ data ▶ training ▶ run folder.
@Suite struct EndToEndTests {
    static func mnistConfig(_ extra: String = "", epochs: Int = 2) -> String {
        """
        {"name": "e2e", "seed": 3,
         "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 2000, "test_limit": 500},
         "model": {"preset": "lenet-300-100"},
         "training": {"epochs": \(epochs), "batch_size": 50, "learning_rate": 0.05, "momentum": 0.9}\(extra)}
        """
    }

    func tempDir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-e2e-\(UUID().uuidString)")
        return d.path
    }

    func readCSV(_ path: String) throws -> [[String: String]] {
        let rows = try CSVReader.read(URL(fileURLWithPath: path))
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
    }

    @Test func denseRunWritesTheRunFolderAndLearns() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try ConfigLoader.decode(Data(Self.mnistConfig().utf8))
        _ = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        for f in ["config.json", "run.json", "metrics.csv", "summary.csv", "layers.csv", "model.h5", "model-sparse.h5"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(f)"), "missing \(f)")
        }
        let s = try #require(try readCSV("\(dir)/summary.csv").first)
        #expect(Set(SummaryRow().columns.map(\.name)).isSubset(of: Set(s.keys)))
        #expect(s["method"] == "dense" && s["label"] == "dense")
        let acc = try #require(Double(s["test_accuracy"] ?? ""))
        #expect(acc > 0.85 && acc <= 1)
        #expect(s["steps"] == "80")
        #expect(s["sparsity"] == "0.0")
        // train_flops, recomputed by hand: per sample, forward 2*W + biases + ReLUs + loss,
        // backward 2*W (dW) + biases, plus 2*W (dx) for every layer but the first, + ReLUs.
        let w = [235_200, 30_000, 1_000], b = [300, 100, 10]
        let forward = 2 * w.reduce(0, +) + b.reduce(0, +) + 400 + 6 * 10
        let backward = 2 * w.reduce(0, +) + b.reduce(0, +) + 2 * (w[1] + w[2]) + 400
        #expect(s["train_flops"] == String((forward + backward) * 2000 * 2))
        #expect(s["dense_train_flops"] == s["train_flops"])
        let layers = try readCSV("\(dir)/layers.csv")
        #expect(layers.map { $0["layer"]! } == ["fc1", "fc2", "fc3"])
        #expect(layers[0]["dense_flops"] == "470700")
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/run.json"))) as? [String: Any]
        #expect(info?["status"] as? String == "completed")
        let metrics = try readCSV("\(dir)/metrics.csv")
        #expect(metrics.filter { $0["split"] == "test" && $0["metric"] == "accuracy" }.count == 2)
        // every row: cumulative FLOPs at its step (all 80 steps cost the same here) and the
        // seconds since the run started, never decreasing, within the run's own seconds
        let total = try #require(Int(s["train_flops"] ?? ""))
        var lastWall = 0.0
        for row in metrics {
            let step = try #require(Int(row["step"] ?? ""))
            #expect(Int(row["train_flops"] ?? "") == total / 80 * step, "train_flops at step \(step)")
            let wall = try #require(Double(row["wall_seconds"] ?? ""))
            #expect(wall >= lastWall && wall > 0)
            lastWall = wall
        }
        let summaryWall = try #require(Double(s["wall_seconds"] ?? ""))
        #expect(lastWall <= summaryWall)
        let seconds = ["train_seconds", "eval_seconds", "analysis_seconds"].map { Double(s[$0] ?? "") ?? -1 }
        #expect(seconds[0] > 0 && seconds[1] > 0 && seconds[2] == 0, "dense: no analysis")
        #expect(abs(seconds[0] + seconds[1] - summaryWall) < 1e-6)
        // the same config and seed give the same results (all but wall time)
        let dir2 = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        _ = try Runner.run(config, options: RunOptions(outDir: dir2, progress: false))
        var s2 = try #require(try readCSV("\(dir2)/summary.csv").first)
        var s1 = s
        for timing in SummaryRow.timingColumns where s1[timing] != nil {
            #expect(Double(s1[timing] ?? "") ?? 0 > 0 || timing == "analysis_seconds", "\(timing) is measured")
            s1[timing] = nil
            s2[timing] = nil
        }
        #expect(s1 == s2)
        // a finished run is not overwritten without force
        #expect(throws: RunFolderError.holdsFinishedRun(path: URL(fileURLWithPath: dir).path)) {
            try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        }
    }

    @Test func divergingRunFailsCleanlyAndKeepsItsMetrics() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try ConfigLoader.decode(
            Data(Self.mnistConfig(epochs: 3).utf8),
            overrides: ["training.learning_rate=1e30", "training.log_every=\"1it\""])
        do {
            _ = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
            Issue.record("a learning rate of 1e30 should diverge")
        } catch let e as TrainingError {
            #expect("\(e)".contains("diverged at step"))
        }
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/run.json"))) as? [String: Any]
        #expect(info?["status"] as? String == "failed")
        #expect((info?["error"] as? String)?.contains("diverged at step") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/summary.csv"))
        #expect(try readCSV("\(dir)/metrics.csv").count >= 1)
    }

    @Test func hanPipelineReachesItsTargetsAndModelFilesReload() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pruning = """
            , "pruning": {"method": "han", "layer_sparsity": {"fc1": 0.9, "fc2": 0.8}, "exclude": ["fc3"],
              "han": {"rule": "sparsity", "rounds": 3, "retrain": "1ep", "retrain_learning_rate": 0.01,
                      "curve": {"enabled": true, "from": 0.5, "to": 0.9, "step": 0.2}}}
            """
        let config = try ConfigLoader.decode(Data(Self.mnistConfig(pruning).utf8))
        _ = try Runner.run(config, options: RunOptions(outDir: dir, progress: false))
        let layers = try readCSV("\(dir)/layers.csv")
        #expect(layers[0]["nonzero"] == String(Int((235_200 * 0.1).rounded(.up))))
        #expect(layers[1]["nonzero"] == "6000")
        #expect(layers[2]["nonzero"] == "1000")
        let rounds = try readCSV("\(dir)/rounds.csv")
        #expect(rounds.count == 3)
        let fc1After = rounds.map { Double($0["fc1_sparsity_after"]!)! }
        #expect(fc1After == fc1After.sorted())
        let s = try #require(try readCSV("\(dir)/summary.csv").first)
        #expect(s["method"] == "han")
        let flops = Int(s["train_flops"]!)!, dense = Int(s["dense_train_flops"]!)!
        #expect(flops < dense)
        let roundFLOPs = rounds.reduce(0) { $0 + Int($1["round_train_flops"]!)! }
        #expect(roundFLOPs < flops)
        #expect(Int(s["sparse_bytes"]!)! < Int(s["dense_bytes"]!)!)
        let curve = try readCSV("\(dir)/prune-curve.csv")
        #expect(curve.count == 3 * (2 + 2))  // 3 sparsities x (layer, global, fc1 only, fc2 only)
        for row in curve where row["scope"] != "only" {
            #expect(abs(Double(row["achieved_sparsity"]!)! - Double(row["sparsity"]!)!) < 1e-3)
        }

        // h5py, an independent reader, sees the same weights in both files.
        if let check = try h5pyModelCheck(dir: dir) {
            #expect(check["format"] as? String == "prunelab-dense-1")
            #expect(check["nonzero"] as? Int == Int(s["nonzero_weights"]!)!)
            #expect(check["csr_equals_dense"] as? Bool == true)
            #expect(check["mask_matches"] as? Bool == true)
            #expect((check["config_name"] as? String) == "e2e")
        }

        // Both model files reload into a fresh model and give the reported test accuracy.
        let data = try config.data.load()
        for file in [ModelFiles.denseName, ModelFiles.sparseName] {
            let session = try TrainingSession(config: config, data: data)
            try ModelFiles.load(path: "\(dir)/\(file)", into: session.model)
            #expect(String(session.evaluateTest().accuracy) == s["test_accuracy"], "\(file)")
            #expect(session.model.weightCounts.nonzero == Int(s["nonzero_weights"]!)!)
        }
    }
}

/// Reads model.h5 and model-sparse.h5 with h5py; nil (and a recorded issue) without h5py.
func h5pyModelCheck(dir: String) throws -> [String: Any]? {
    let script = """
        import sys, json, h5py, numpy as np
        d, s = h5py.File(sys.argv[1] + "/model.h5", "r"), h5py.File(sys.argv[1] + "/model-sparse.h5", "r")
        nz, same, masks = 0, True, True
        for layer in ("fc1", "fc2", "fc3"):
            w = d[layer + "/weight"][()]
            nz += int((w != 0).sum())
            masks &= bool(((d[layer + "/mask"][()] == 0) <= (w == 0)).all())
            out, inp = (int(x) for x in str(s[layer].attrs["shape"]).split(","))
            rec = np.zeros((out, inp), dtype=np.float32)
            rp, ci, v = s[layer + "/row_ptr"][()], s[layer + "/col_index"][()], s[layer + "/values"][()]
            for r in range(out):
                rec[r, ci[rp[r]:rp[r + 1]]] = v[rp[r]:rp[r + 1]]
            same &= bool((rec == w).all()) and ci.dtype.itemsize <= 2
        cfg = json.loads(d.attrs["config"])
        print(json.dumps({"format": str(d.attrs["format"]), "nonzero": nz, "csr_equals_dense": same,
                          "mask_matches": masks, "config_name": cfg["name"]}))
        """
    let r = try TestSupport.run("python3", ["-c", script, dir])
    guard r.status == 0 else {
        Issue.record("python3 with h5py could not read the model files (scripts/deps.sh installs h5py)")
        return nil
    }
    return try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
}

/// The `prunelab` binary's error contract: one line on stderr, exit status 1, no stack trace.
@Suite struct CLITests {
    static var binary: URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("prunelab"),
            TestSupport.root.appendingPathComponent(".build/debug/prunelab"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The environment for a `prunelab` subprocess whose results a test compares bit for bit
    /// with a run in this process: OpenBLAS on this process's kernel. The test process never
    /// switches kernels (only the CLI does, `ProcessSetup`), so on a CPU where OpenBLAS falls back
    /// to Prescott (Xeon family 6 model 207) the CLI would otherwise run SkylakeX SGEMM and
    /// differ in the last bits.
    static var sameKernelEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["OPENBLAS_CORETYPE": BLAS.coreName]) { $1 }
    }

    func run(_ args: [String]) throws -> (status: Int32, stderr: String) {
        let exe = try #require(Self.binary, "the prunelab executable was not built next to the tests")
        let r = try TestSupport.run(exe.path, args, in: TestSupport.root)
        return (r.status, r.errors)
    }

    func writeConfig(_ json: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json").path
        // relative paths in a config file resolve against its folder (a temp folder here)
        let absolute = json.replacingOccurrences(of: "\"data/", with: "\"\(TestSupport.root.path)/data/")
        try absolute.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(arguments: [
        (
            #"{"data": {"format": "idx", "dir": "data/mnist"}, "model": {"preset": "lenet-300-100"}, "trainig": {}}"#,
            "key 'trainig': unknown key"
        ),
        (#"{"data": {"format": "idx", "dir": "no/such/dir"}, "model": {"preset": "lenet-300-100"}}"#, "no/such/dir"),
        (
            #"{"data": {"format": "hdf5", "train_file": "data/mnist/train-labels-idx1-ubyte.gz"}, "model": {"preset": "lenet-300-100"}}"#,
            "not an HDF5 file"
        ),
        (
            #"{"data": {"format": "hdf5", "train_file": "data/catvnoncat/train_catvnoncat.h5"}, "model": {"preset": "lenet-300-100"}}"#,
            "X_train"
        ),
        (
            #"{"data": {"format": "idx", "dir": "data/mnist"}, "model": {"preset": "lenet-300-100"}, "training": {"batch_size": 0}}"#,
            "training.batch_size"
        ),
    ])
    func badInputGivesOneLineAndExitOne(config: String, mention: String) throws {
        let path = try writeConfig(config)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(["run", path, "--out", out, "--no-progress"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("prunelab: error: "))
        #expect(r.stderr.contains(mention), "stderr: \(r.stderr)")
    }

    @Test func missingConfigFile() throws {
        let r = try run(["run", "/no/such/config.json", "--out", "/tmp/x"])
        #expect(r.status == 1)
        #expect(r.stderr == "prunelab: error: /no/such/config.json: no such file\n")
    }

    @Test func quantizeBadInputIsOneLine() throws {
        let r = try run(["quantize", "/no/such/run", "--bits", "4"])
        #expect(r.status == 1)
        #expect(r.stderr == "prunelab: error: /no/such/run: no such run folder\n")
        let bits = try run(["quantize", "/no/such/run", "--bits", "3"])
        #expect(bits.status == 1)
        #expect(bits.stderr.hasPrefix("prunelab: error: --bits 3: unsupported; use 1, 2, 4 or 8\n"))
    }
}

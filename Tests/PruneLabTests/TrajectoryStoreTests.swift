import Testing
import Foundation
@testable import Experiments

/// `trajectories.h5` (recording.format=hdf5) read back by h5py, the independent reader: every
/// weight per record, equal to the CSV samples where they overlap; a store killed mid-run.
@Suite struct TrajectoryStoreTests {
    static func config(epochs: Int, flush: Int) -> String {
        """
        {"name": "store", "seed": 2,
         "data": {"format": "idx", "dir": "\(TestSupport.root.path)/data/mnist", "train_limit": 1000, "test_limit": 200},
         "model": {"preset": "lenet-300-100"},
         "training": {"epochs": \(epochs), "batch_size": 50, "learning_rate": 0.05, "momentum": 0.9},
         "pruning": {"method": "dynamic", "layer_sparsity": {"fc1": 0.5, "fc2": 0.8, "fc3": 0.7},
           "dynamic": {"criterion": "magnitude", "cubic": {"start": "2it", "end": "15it", "every": "2it"}}},
         "recording": {"enabled": true, "every": "1it", "samples_per_layer": 20, "layers": ["fc2", "fc3"],
                       "format": "hdf5", "flush_records": \(flush)}}
        """
    }

    /// Runs `script` with python3 (argv[1...] = `args`) and decodes its stdout as JSON; nil and a
    /// recorded issue without h5py.
    static func python(_ script: String, _ args: [String]) throws -> [String: Any]? {
        let r = try TestSupport.run("python3", ["-c", script] + args)
        guard r.status == 0 else {
            Issue.record("python3/h5py failed: \(r.errors.suffix(800))")
            return nil
        }
        return try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
    }

    static let checkScript = """
        import sys, json, csv, h5py, numpy as np
        d = sys.argv[1]
        f = h5py.File(d + "/trajectories.h5", "r")
        rows = list(csv.DictReader(open(d + "/trajectories.csv")))
        steps = f["steps"][()]
        out = {"layers": sorted(k for k in f.keys() if k != "steps"), "records": int(len(steps)),
               "csv_steps_equal": sorted({int(r["step"]) for r in rows}) == steps.tolist()}
        same, diff_ok, pruned_ok, meta_ok = True, True, True, True
        for layer in ("fc2", "fc3"):
            v, g, u = (f[layer + "/" + k] for k in ("value", "grad", "update"))
            meta_ok &= v.maxshape[0] is None and v.compression == "gzip" and v.shuffle and v.shape == g.shape == u.shape
            meta_ok &= v.shape[0] == len(steps) and v.dtype == np.float32
            V, U = v[()], u[()]
            diff_ok &= bool((U[0] == 0).all() and (np.diff(V, axis=0) == U[1:]).all())
            ps = f[layer + "/pruned_step"][()]
            first = {}
            for r in rows:
                if r["layer"] != layer: continue
                i, k = int(r["index"]), int(np.searchsorted(steps, int(r["step"])))
                same &= V[k, i] == np.float32(r["value"]) and g[k, i] == np.float32(r["grad"]) and U[k, i] == np.float32(r["update"])
                if r["masked"] == "1" and i not in first: first[i] = int(r["step"])
            idx = {int(r["index"]) for r in rows if r["layer"] == layer}
            pruned_ok &= all(ps[i] == first.get(i, -1) for i in idx) and bool((V[-1][ps >= 0] == 0).all())
        out.update(samples_equal=bool(same), updates_are_differences=bool(diff_ok), pruned_steps=bool(pruned_ok), metadata=bool(meta_ok))
        print(json.dumps(out))
        """

    @Test func storeHoldsEveryWeightAndMatchesTheCSVSamples() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try ConfigLoader.decode(Data(Self.config(epochs: 1, flush: 3).utf8))
        _ = try Runner.run(c, options: RunOptions(outDir: dir.path, progress: false))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".trajectories.h5.partial").path))
        guard let r = try Self.python(Self.checkScript, [dir.path]) else { return }
        #expect(r["layers"] as? [String] == ["fc2", "fc3"])
        #expect(r["records"] as? Int == 21)  // step 0 and each of the 20 steps of one epoch
        for k in ["csv_steps_equal", "samples_equal", "updates_are_differences", "pruned_steps", "metadata"] {
            #expect(r[k] as? Bool == true, "\(k): \(r)")
        }
        // the CSV export of the store holds what h5py reads
        let csv = try TrajectoryExport.fromStore(runDir: dir.path, layer: "fc3", every: 5)
        let exported = CSVReader.parse(csv)
        #expect(exported.count == 1 + 5 * 1000)  // steps 0, 5, 10, 15, 20
        let script = """
            import sys, json, h5py
            f = h5py.File(sys.argv[1] + "/trajectories.h5", "r")
            print(json.dumps({"v": float(f["fc3/value"][10, 417]), "g": float(f["fc3/grad"][10, 417])}))
            """
        guard let h = try Self.python(script, [dir.path]) else { return }
        let row = try #require(exported.first { $0[0] == "10" && $0[2] == "417" })
        #expect(Float(row[5]) == Float(h["v"] as? Double ?? .nan) && Float(row[6]) == Float(h["g"] as? Double ?? .nan))
        #expect(row[3] == "4" && row[4] == "17")
    }

    @Test func aKilledRunLeavesAStoreH5pyOpensUpToTheLastFlush() throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathExtension("json")
        defer { try? FileManager.default.removeItem(at: cfg) }
        try Self.config(epochs: 40, flush: 4).write(to: cfg, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = exe
        p.arguments = ["run", cfg.path, "--out", dir.path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let partial = dir.appendingPathComponent(".trajectories.h5.partial").path
        let deadline = Date().addingTimeInterval(120)
        // wait for the first checkpoint (end of epoch 1, 20 records, several flushes)
        let checkpoint = dir.appendingPathComponent("checkpoint.h5").path
        while p.isRunning, Date() < deadline, !FileManager.default.fileExists(atPath: checkpoint) { usleep(50_000) }
        #expect(p.isRunning, "the run ended before it could be killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("trajectories.h5").path))
        let script = """
            import sys, json, h5py, numpy as np
            f = h5py.File(sys.argv[1], "r", swmr=True)
            s = f["steps"][()]
            v = f["fc3/value"]
            print(json.dumps({"records": int(len(s)), "rows": int(v.shape[0]), "increasing": bool((np.diff(s) == 1).all() and s[0] == 0),
                              "finite": bool(np.isfinite(v[: len(s)]).all())}))
            """
        guard let r = try Self.python(script, [partial]) else { return }
        let records = r["records"] as? Int ?? 0
        #expect(records >= 21 && r["increasing"] as? Bool == true && r["finite"] as? Bool == true, "\(r)")
        #expect((r["rows"] as? Int ?? 0) >= records, "\(r)")
        // the checkpoint at the end of epoch 1 (step 20) flushed records 0...20 at least
        // resuming is refused with one line, before any file of the interrupted run is touched
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let resume = Process()
        resume.executableURL = exe
        resume.arguments = ["run", "--resume", dir.path]
        let err = Pipe()
        resume.standardError = err
        resume.standardOutput = FileHandle.nullDevice
        try resume.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        resume.waitUntilExit()
        #expect(resume.terminationStatus == 1 && message.contains("cannot resume a run recording trajectories.h5"), "\(message)")
        #expect(message.split(separator: "\n").count == 1)
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(before.filter { $0.hasSuffix(".partial") } == after.filter { $0.hasSuffix(".partial") })
        #expect(after.contains(".trajectories.csv.partial") && after.contains(".trajectories.h5.partial"))
    }
}

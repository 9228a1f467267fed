import Testing
import Foundation
import TensorCore
import NN
import Datasets
@testable import Experiments

/// `prunelab predict` against the model on the HDF5 arrays the images were written from (by
/// Pillow), JPEG decoding against Pillow's, and bad images as one-line errors.
@Suite struct PredictionTests {
    /// Runs Pillow; nil (with a recorded issue) when it is missing.
    static func pillow(_ script: String, _ args: [String]) throws -> String? {
        guard TestSupport.pythonImports("PIL, h5py") else {
            Issue.record("python3 with Pillow and h5py is required (bash scripts/deps.sh installs them)")
            return nil
        }
        return try TestSupport.python(["-c", script] + args)
    }

    static func catRun(in dir: URL) throws -> (String, ExperimentConfig) {
        let config = try ConfigLoader.decode(
            Data(
                """
                {"name": "predict", "seed": 2,
                 "data": {"format": "hdf5", "train_file": "\(TestSupport.root.path)/data/catvnoncat/train_catvnoncat.h5",
                          "test_file": "\(TestSupport.root.path)/data/catvnoncat/test_catvnoncat.h5",
                          "x_train": "train_set_x", "y_train": "train_set_y", "x_test": "test_set_x", "y_test": "test_set_y",
                          "test_limit": 12},
                 "model": {"layers": [{"units": 20, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}]},
                 "training": {"steps": 30, "batch_size": "full", "learning_rate": 0.01, "momentum": 0}}
                """.utf8))
        let run = dir.appendingPathComponent("run").path
        _ = try Runner.run(config, options: RunOptions(outDir: run, progress: false))
        return (run, config)
    }

    @Test func photosOfTheTestArraysGetTheModelsPredictions() throws {
        try withScratchFolder("predict") { dir in
            let (run, config) = try Self.catRun(in: dir)
            let png = dir.appendingPathComponent("png").path, jpeg = dir.appendingPathComponent("jpeg").path
            let export = TestSupport.root.appendingPathComponent("experiments/export_photos.py").path
            let h5 = TestSupport.root.appendingPathComponent("data/catvnoncat/test_catvnoncat.h5").path
            guard try Self.pillow("pass", []) != nil else { return }
            _ = try TestSupport.python([export, h5, "test_set_x", "test_set_y", png])
            _ = try TestSupport.python([export, h5, "test_set_x", "test_set_y", jpeg, "--format", "jpeg"])
            // bad files beside good ones: corrupt, truncated, empty, unsupported
            let good = try Data(contentsOf: URL(fileURLWithPath: "\(png)/000.png"))
            let bad = dir.appendingPathComponent("bad")
            try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
            try (good.prefix(8) + Data(repeating: 0x5A, count: 200)).write(to: bad.appendingPathComponent("corrupt.png"))
            try good.prefix(good.count / 2).write(to: bad.appendingPathComponent("truncated.png"))
            let jpegBytes = try Data(contentsOf: URL(fileURLWithPath: "\(jpeg)/000.jpg"))
            try jpegBytes.prefix(jpegBytes.count / 2).write(to: bad.appendingPathComponent("truncated.jpg"))
            try Data().write(to: bad.appendingPathComponent("empty.png"))
            try Data("GIF89a".utf8).write(to: bad.appendingPathComponent("image.gif"))
            let pngs = (0..<12).map { String(format: "\(png)/%03d.png", $0) }
            let badFiles = ["corrupt.png", "truncated.png", "truncated.jpg", "empty.png", "image.gif"].map {
                bad.appendingPathComponent($0).path
            }
            let outcome = try Prediction.run(
                runDir: run, paths: [pngs[0], badFiles[0]] + Array(pngs[1...]) + [bad.path], csv: dir.appendingPathComponent("p.csv").path)
            // every bad file is one line naming it; every PNG is still predicted
            #expect(outcome.failures.count == badFiles.count + 1, "corrupt.png is given twice: \(outcome.failures)")
            for f in badFiles {
                let lines = outcome.failures.filter { $0.hasPrefix(f + ": ") }
                #expect(lines.count == (f == badFiles[0] ? 2 : 1), "\(f): \(outcome.failures)")
            }
            #expect(outcome.failures.allSatisfy { !$0.contains("\n") }, "\(outcome.failures)")
            #expect(outcome.rows.map(\.path) == pngs)
            // the model on the arrays themselves
            let data = try config.data.load()
            let session = try TrainingSession(config: config, data: data)
            try ModelFiles.load(path: "\(run)/model.h5", into: session.model)
            let size = data.test.images.rowSize
            for (i, row) in outcome.rows.enumerated() {
                let x = Tensor(shape: [1] + data.test.sampleShape, scalars: Array(data.test.images.scalars[(i * size)..<((i + 1) * size)]))
                let expected = Prediction.predict(session.model, input: x, path: row.path)
                #expect(row.predicted == expected.predicted && row.probabilities == expected.probabilities, "\(row.path)")
            }
            let csv = try CSVReader.read(dir.appendingPathComponent("p.csv"))
            #expect(csv[0] == ["path", "class", "probability", "p0", "p1"] && csv.count == 13)
        }
    }

    @Test func commandPredictsTheGoodImagesAndExitsOneForTheBad() throws {
        try withScratchFolder("predict-cli") { dir in
            let (run, _) = try Self.catRun(in: dir)
            let export = TestSupport.root.appendingPathComponent("experiments/export_photos.py").path
            let h5 = TestSupport.root.appendingPathComponent("data/catvnoncat/test_catvnoncat.h5").path
            guard try Self.pillow("pass", []) != nil else { return }
            _ = try TestSupport.python([export, h5, "test_set_x", "test_set_y", dir.appendingPathComponent("png").path])
            let empty = dir.appendingPathComponent("empty.jpg")
            try Data().write(to: empty)
            let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
            let r = try TestSupport.run(
                exe.path,
                [
                    "predict", run, dir.appendingPathComponent("png/000.png").path, empty.path,
                    dir.appendingPathComponent("png/001.png").path,
                ])
            #expect(r.status == 1)
            #expect(r.errors == "prunelab: error: \(empty.path): empty file (0 bytes)\n")
            #expect(r.output.split(separator: "\n").filter { $0.contains("probability") }.count == 2)
            #expect(FileManager.default.fileExists(atPath: "\(run)/predictions.csv"))
        }
    }

    @Test func jpegDecodesAsPillowDecodesIt() throws {
        try withScratchFolder("jpeg") { dir in
            let script = """
                import sys, json, h5py, numpy as np
                from PIL import Image
                x = h5py.File(sys.argv[1], "r")["test_set_x"][()]
                out = []
                for i in range(3):
                    p = f"{sys.argv[2]}/{i}.jpg"
                    Image.fromarray(x[i]).save(p, quality=90)
                    out.append([int(v) for v in np.asarray(Image.open(p).convert("RGB")).ravel()])
                Image.fromarray(x[0]).convert("L").save(f"{sys.argv[2]}/grey.png")
                out.append([int(v) for v in np.asarray(Image.fromarray(x[0]).convert("L")).ravel()])
                print(json.dumps(out))
                """
            let h5 = TestSupport.root.appendingPathComponent("data/catvnoncat/test_catvnoncat.h5").path
            guard let text = try Self.pillow(script, [h5, dir.path]) else { return }
            let pillow = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[Int]])
            for i in 0..<3 {
                let ours = try ImageFile.decode(path: dir.appendingPathComponent("\(i).jpg").path)
                #expect(ours.width == 64 && ours.height == 64 && ours.channels == 3)
                let diffs = zip(ours.pixels, pillow[i]).map { abs(Int($0) - $1) }
                #expect(diffs.max() ?? 99 <= 2, "JPEG \(i): largest difference from Pillow's decode \(diffs.max() ?? -1)")
            }
            // grey: a greyscale PNG decodes to one channel; RGB to grey is Pillow's convert("L")
            let grey = try ImageFile.decode(path: dir.appendingPathComponent("grey.png").path)
            #expect(grey.channels == 1 && grey.pixels.map { Int($0) } == pillow[3])
            let data = try HDF5ImageSet.load(
                trainFile: h5, keys: .init(xTrain: "test_set_x", yTrain: "test_set_y", xTest: "test_set_x", yTest: "test_set_y"))
            let first = Array(data.test.images.scalars[0..<(3 * 64 * 64)]).map { UInt8(($0 * 255).rounded()) }
            var hwc = [UInt8](repeating: 0, count: first.count)
            for c in 0..<3 { for p in 0..<(64 * 64) { hwc[p * 3 + c] = first[c * 64 * 64 + p] } }
            let luma = ImageFile.modelInput(DecodedImage(width: 64, height: 64, channels: 3, pixels: hwc), shape: [1, 64, 64])
            #expect(luma.map { Int(($0 * 255).rounded()) } == pillow[3])
        }
    }

    @Test func resamplingAveragesAreasAndInterpolates() {
        // 4x4 -> 2x2 area: each output is the mean of a 2x2 block
        let pixels: [UInt8] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]
        let small = ImageFile.modelInput(DecodedImage(width: 4, height: 4, channels: 1, pixels: pixels), shape: [1, 2, 2])
        #expect(small.map { ($0 * 255).rounded() } == [25, 45, 105, 125])
        // 2 -> 4 bilinear with aligned centres: 0, 2.5, 7.5, 10 of a 0..10 ramp
        let big = ImageFile.modelInput(DecodedImage(width: 2, height: 1, channels: 1, pixels: [0, 10]), shape: [1, 1, 4])
        #expect(big.map { Double($0 * 255) }.map { ($0 * 100).rounded() / 100 } == [0, 2.5, 7.5, 10])
        // grey to RGB repeats the channel
        let rgb = ImageFile.modelInput(DecodedImage(width: 1, height: 1, channels: 1, pixels: [51]), shape: [3, 1, 1])
        #expect(rgb == [0.2, 0.2, 0.2])
    }
}

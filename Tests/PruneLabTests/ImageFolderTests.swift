import Testing
import Foundation
import TensorCore
import Datasets
@testable import Experiments

/// Class folders of PNG and JPEG files written by Pillow, read to what Pillow and numpy decode.
@Suite struct ImageFolderTests {
    static let pillow = ExternalRequirement.python("numpy, PIL")

    /// Writes `train/{cat,dog,bird}` and `test/{cat,dog}` (PNG for even i, JPEG for odd i, 8x6
    /// RGB noise), then, per split, in the order torchvision's ImageFolder lists them (sorted
    /// classes, sorted files), Pillow's decode as float32 / 255 channels first (`<split>.bin`),
    /// the class indices (`<split>-labels.txt`) and 1 for PNG files (`<split>-png.txt`).
    static let writer = """
        import os, sys, numpy as np
        from PIL import Image
        d = sys.argv[1]
        rng = np.random.default_rng(3)
        for split, counts in [("train", {"cat": 3, "dog": 2, "bird": 2}), ("test", {"cat": 2, "dog": 1})]:
            for c, n in counts.items():
                os.makedirs(f"{d}/{split}/{c}")
                for i in range(n):
                    a = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
                    if i % 2 == 0:
                        Image.fromarray(a).save(f"{d}/{split}/{c}/img{i}.png")
                    else:
                        Image.fromarray(a).save(f"{d}/{split}/{c}/img{i}.JPG", quality=90)
            classes = sorted(os.listdir(f"{d}/train"))
            values, labels, png = [], [], []
            for c in sorted(os.listdir(f"{d}/{split}")):
                for f in sorted(os.listdir(f"{d}/{split}/{c}")):
                    a = np.asarray(Image.open(f"{d}/{split}/{c}/{f}").convert("RGB")).astype(np.float32) / np.float32(255)
                    values.append(a.transpose(2, 0, 1)); labels.append(classes.index(c)); png.append(int(f.endswith(".png")))
            np.stack(values).astype("<f4").tofile(f"{d}/{split}.bin")
            open(f"{d}/{split}-labels.txt", "w").write(" ".join(map(str, labels)))
            open(f"{d}/{split}-png.txt", "w").write(" ".join(map(str, png)))
        """

    static func ints(_ url: URL) throws -> [Int] {
        try String(contentsOf: url, encoding: .utf8).split(separator: " ").compactMap { Int($0) }
    }

    /// PNG samples equal Pillow's decode / 255 exactly; JPEG samples within 2/255 (Pillow may
    /// bundle another libjpeg-turbo build); labels follow sorted class names.
    @Test(.enabled(if: pillow.present || TestSupport.inCI, "numpy or Pillow is missing"))
    func classFoldersReadToPillowsDecode() throws {
        try withScratchFolder("imagefolder") { dir in
            _ = try TestSupport.python(["-c", Self.writer, dir.path])
            let config = try ConfigLoader.decode(
                Data(#"{"data": {"format": "images", "dir": "\#(dir.path)"}, "model": {"preset": "lenet-300-100"}}"#.utf8))
            let split = try config.data.load()
            for (set, name) in [(split.train, "train"), (split.test, "test")] {
                let expected = try ArrayDataTests.floats(dir.appendingPathComponent("\(name).bin"))
                let png = try Self.ints(dir.appendingPathComponent("\(name)-png.txt"))
                #expect(set.labels == (try Self.ints(dir.appendingPathComponent("\(name)-labels.txt"))))
                #expect(set.images.shape == [png.count, 3, 6, 8])
                #expect(set.classCount == 3)
                let size = 3 * 6 * 8
                var jpegWorst: Float = 0
                for (i, isPNG) in png.enumerated() {
                    let got = Array(set.images.scalars[(i * size)..<((i + 1) * size)])
                    let want = Array(expected[(i * size)..<((i + 1) * size)])
                    if isPNG == 1 {
                        #expect(got == want, "\(name) sample \(i) (PNG)")
                    } else {
                        jpegWorst = max(jpegWorst, zip(got, want).map { abs($0 - $1) }.max() ?? 0)
                    }
                }
                #expect(jpegWorst <= 2 / 255, "\(name): JPEG pixels differ from Pillow's by up to \(jpegWorst * 255)/255")
            }
        }
    }

    /// A run trained on standardised inputs (`normalize: "train"`): `prunelab predict` on the
    /// training files gives what the model gives on the loaded, standardised training tensors.
    @Test(.enabled(if: pillow.present || TestSupport.inCI, "numpy or Pillow is missing"))
    func predictStandardisesAsTrainingDid() throws {
        try withScratchFolder("imagefolder-predict") { dir in
            _ = try TestSupport.python(["-c", Self.writer, dir.path])
            let config = try ConfigLoader.decode(
                Data(
                    """
                    {"name": "own", "seed": 2, "data": {"format": "images", "dir": "\(dir.path)", "normalize": "train"},
                     "model": {"layers": [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
                     "training": {"steps": 3, "batch_size": "full", "learning_rate": 0.1}}
                    """.utf8))
            let run = dir.appendingPathComponent("run").path
            _ = try Runner.run(config, options: RunOptions(outDir: run, progress: false))
            let data = try config.data.load()
            #expect(abs((data.train.images.scalars.reduce(0, +)) / Float(data.train.images.count)) < 1e-5, "not standardised")
            var files: [String] = []
            for c in ["bird", "cat", "dog"] {
                let folder = dir.appendingPathComponent("train/\(c)")
                files += try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
                    folder.appendingPathComponent($0).path
                }
            }
            let outcome = try Prediction.run(runDir: run, paths: files, csv: dir.appendingPathComponent("p.csv").path)
            let session = try TrainingSession(config: config, data: data)
            try ModelFiles.load(path: "\(run)/model.h5", into: session.model)
            let size = data.train.sampleSize
            #expect(outcome.rows.count == data.train.count)
            for (i, row) in outcome.rows.enumerated() {
                let x = Tensor(
                    shape: [1] + data.train.sampleShape, scalars: Array(data.train.images.scalars[(i * size)..<((i + 1) * size)]))
                #expect(row.probabilities == Prediction.predict(session.model, input: x, path: row.path).probabilities, "\(row.path)")
            }
        }
    }

    /// `image_size` resizes as `prunelab predict` does: halving both sides of a PNG is the mean
    /// of each 2x2 block (numpy's reshape-and-mean); `channels: 1` is Pillow's `convert("L")`.
    @Test(.enabled(if: pillow.present || TestSupport.inCI, "numpy or Pillow is missing"))
    func declaredSizeAndChannelsMatchNumpyAndPillow() throws {
        let writer = """
            import os, sys, numpy as np
            from PIL import Image
            d = sys.argv[1]
            rng = np.random.default_rng(4)
            half, grey = [], []
            for split in ["train", "test"]:
                for c in ["a", "b"]:
                    os.makedirs(f"{d}/{split}/{c}")
                    a = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
                    Image.fromarray(a).save(f"{d}/{split}/{c}/x.png")
                    if split == "train":
                        m = a.astype(np.float64).reshape(3, 2, 4, 2, 3).mean(axis=(1, 3)).astype(np.float32) / np.float32(255)
                        half.append(m.transpose(2, 0, 1))
                        g = np.asarray(Image.fromarray(a).convert("L")).astype(np.float32) / np.float32(255)
                        grey.append(g[None])
            np.stack(half).astype("<f4").tofile(f"{d}/half.bin")
            np.stack(grey).astype("<f4").tofile(f"{d}/grey.bin")
            """
        try withScratchFolder("imagesize") { dir in
            _ = try TestSupport.python(["-c", writer, dir.path])
            let half = try ImageFolderSet.load(directory: dir.path, size: [3, 4])
            #expect(half.train.images.shape == [2, 3, 3, 4])
            #expect(half.train.images.scalars == (try ArrayDataTests.floats(dir.appendingPathComponent("half.bin"))))
            let grey = try ImageFolderSet.load(directory: dir.path, channels: 1)
            #expect(grey.train.images.shape == [2, 1, 6, 8])
            #expect(grey.train.images.scalars == (try ArrayDataTests.floats(dir.appendingPathComponent("grey.bin"))))
        }
    }

    /// A tiny PNG built byte by byte (zlib-stored IDAT, CRCs from Python's zlib): 2x1 grey pixels 0
    /// and 255.
    static let tinyPNG: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xD1, 0x49, 0x20,
        0x56, 0x00, 0x00, 0x00, 0x0E, 0x49, 0x44, 0x41, 0x54, 0x78, 0x01, 0x01, 0x03, 0x00, 0xFC, 0xFF,
        0x00, 0x00, 0xFF, 0x01, 0x02, 0x01, 0x00, 0xB7, 0x01, 0x2E, 0xF7, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]

    /// Folders laid out by `files` (relative path ▶ bytes; a path ending in `/` is an empty folder).
    static func layout(_ dir: URL, _ files: [String: [UInt8]]) throws {
        for (path, bytes) in files {
            let url = dir.appendingPathComponent(path)
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            }
        }
    }

    @Test func tinyPNGDecodes() throws {
        try withScratchFolder("tinypng") { dir in
            try Self.layout(dir, ["train/a/x.png": Self.tinyPNG, "train/b/y.png": Self.tinyPNG, "test/a/z.png": Self.tinyPNG])
            let split = try ImageFolderSet.load(directory: dir.path)
            #expect(split.train.images.shape == [2, 1, 1, 2] && split.train.images.scalars == [0, 1, 0, 1])
            #expect(split.train.labels == [0, 1] && split.test.labels == [0])
        }
    }

    struct BadCase: CustomTestStringConvertible, Sendable {
        var label: String
        var files: [String: [UInt8]]
        var culprit: String
        var message: String
        var testDescription: String { label }
    }

    static let badCases: [BadCase] = [
        BadCase(
            label: "empty class folder", files: ["train/a/x.png": tinyPNG, "train/b/notes.txt": Array("hi".utf8), "test/a/x.png": tinyPNG],
            culprit: "train/b", message: "empty class folder: no .png, .jpg or .jpeg file"),
        BadCase(
            label: "unreadable image",
            files: ["train/a/x.png": tinyPNG, "train/b/y.png": Array("not an image".utf8), "test/a/x.png": tinyPNG],
            culprit: "train/b/y.png", message: "not a JPEG or PNG image"),
        BadCase(
            label: "truncated PNG", files: ["train/a/x.png": tinyPNG, "train/b/y.png": Array(tinyPNG.prefix(40)), "test/a/x.png": tinyPNG],
            culprit: "train/b/y.png", message: "cannot decode the PNG"),
        BadCase(
            label: "no test folder", files: ["train/a/x.png": tinyPNG], culprit: "test",
            message: "no such folder; an image set is dir/train/<class>/*.png and dir/test/<class>/*.png"),
        BadCase(
            label: "test class unknown", files: ["train/a/x.png": tinyPNG, "test/c/x.png": tinyPNG], culprit: "test/c",
            message: "class folder not in the training set (train classes: a)"),
    ]

    @Test(arguments: badCases)
    func badFoldersFailInOneLineNamingTheFile(_ bad: BadCase) throws {
        try withScratchFolder("imagefolder-bad") { dir in
            try Self.layout(dir, bad.files)
            let message = thrownMessage { _ = try ImageFolderSet.load(directory: dir.path) }
            #expect(message?.hasPrefix("\(dir.appendingPathComponent(bad.culprit).path): \(bad.message)") == true, "\(message ?? "")")
            #expect(message?.contains("\n") == false)
        }
    }

    /// Images of different sizes without `image_size` name the odd file and the key to set.
    @Test(.enabled(if: pillow.present || TestSupport.inCI, "numpy or Pillow is missing"))
    func mixedSizesNameTheFileAndTheKey() throws {
        try withScratchFolder("imagefolder-sizes") { dir in
            let writer = """
                import os, sys
                from PIL import Image
                d = sys.argv[1]
                for p, size in [("train/a/1.png", (8, 6)), ("train/a/2.png", (5, 6)), ("test/a/1.png", (8, 6))]:
                    os.makedirs(os.path.dirname(f"{d}/{p}"), exist_ok=True)
                    Image.new("RGB", size).save(f"{d}/{p}")
                """
            _ = try TestSupport.python(["-c", writer, dir.path])
            let message = thrownMessage { _ = try ImageFolderSet.load(directory: dir.path) }
            #expect(
                message
                    == "\(dir.appendingPathComponent("train/a/2.png").path): is 5x6 (WxH) but the first image is 8x6; set data.image_size to resize"
            )
        }
    }
}

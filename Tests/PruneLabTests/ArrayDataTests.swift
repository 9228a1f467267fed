import Testing
import Foundation
import TensorCore
@testable import Datasets
@testable import Experiments

/// `.npy` and `.npz` image sets written by numpy: every element type and layout read to the
/// values numpy computes, a short run trains on them, and bad files fail in one line.
@Suite struct ArrayDataTests {
    static let numpy = ExternalRequirement.python("numpy")

    /// The element types the tests write: floats (taken as they are) and integers (pixel bytes).
    static let dtypes = ["<f4", ">f4", "<f8", ">f8", "<f2", ">f2", "|u1", "|i1", "<i2", ">i2", "<i4", "<i8", ">i8", "<u2", ">u4", "<u8"]

    /// Writes `X_<tag>.npy` of every dtype in `dtypes` (NHWC, [5, 4, 3, 2]; z-scored floats,
    /// integers in 0...127), `y.npy` (int64), NCHW and NHW copies, and for each the expected
    /// `[N, C, H, W]` float32 input as numpy computes it (`ref_<tag>.bin`): floats cast to
    /// float32, integers / 255 in float32, axes moved channels first.
    static let writer = """
        import sys, numpy as np
        d = sys.argv[1]; dtypes = sys.argv[2].split(",")
        rng = np.random.default_rng(5)
        z = rng.standard_normal((5, 4, 3, 2))
        b = rng.integers(0, 128, size=(5, 4, 3, 2))
        np.save(f"{d}/y.npy", np.array([0, 2, 1, 2, 0], dtype=np.int64))
        for t in dtypes:
            tag = t.replace("<", "le").replace(">", "be").replace("|", "")
            x = (z if t[1] == "f" else b).astype(np.dtype(t))
            np.save(f"{d}/X_{tag}.npy", x)
            ref = x.astype(np.float32) if t[1] == "f" else x.astype(np.float32) / np.float32(255)
            ref.transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/ref_{tag}.bin")
        x = z.astype(np.float32)
        np.save(f"{d}/X_nchw.npy", x.transpose(0, 3, 1, 2).copy())
        np.save(f"{d}/X_nhw.npy", x[..., 0].copy())
        x.transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/ref_nchw.bin")
        x[..., :1].transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/ref_nhw.bin")
        """

    static func tag(_ dtype: String) -> String {
        dtype.replacingOccurrences(of: "<", with: "le").replacingOccurrences(of: ">", with: "be").replacingOccurrences(of: "|", with: "")
    }

    static func floats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"))
    func everyDtypeAndLayoutReadsToNumpysValues() throws {
        try withScratchFolder("npy") { dir in
            _ = try TestSupport.python(["-c", Self.writer, dir.path, Self.dtypes.joined(separator: ",")])
            let cases =
                Self.dtypes.map { (Self.tag($0), ArrayImageSet.Layout.nhwc, [5, 2, 4, 3]) } + [
                    ("nchw", .nchw, [5, 2, 4, 3]), ("nhw", .nhw, [5, 1, 4, 3]),
                ]
            for (tag, layout, shape) in cases {
                let keys = HDF5ImageSet.Keys(xTrain: "X_\(tag)", yTrain: "y", xTest: "X_\(tag).npy", yTest: "y.npy")
                let split = try ArrayImageSet.loadNPY(directory: dir.path, keys: keys, layout: layout)
                let expected = try Self.floats(dir.appendingPathComponent("ref_\(tag).bin"))
                #expect(split.train.images.shape == shape, "\(tag)")
                #expect(split.train.images.scalars == expected, "\(tag): values differ from numpy's")
                #expect(split.test.images.scalars == expected)
                #expect(split.train.labels == [0, 2, 1, 2, 0] && split.train.classCount == 3)
            }
        }
    }

    /// An MNIST subset exported by numpy: `train.npz` (savez_compressed) with z-scored float32
    /// NHWC images and int64 labels, `test.npz` (savez, stored) likewise; and `npy/` with the
    /// uint8 NHWC images and int64 labels. `ref.bin` holds the z-scored training images.
    static let mnistWriter = """
        import gzip, struct, sys, numpy as np
        root, d = sys.argv[1], sys.argv[2]
        def idx(name):
            b = gzip.open(f"{root}/data/mnist/{name}.gz").read()
            dims = struct.unpack(">" + "I" * b[3], b[4:4 + 4 * b[3]])
            return np.frombuffer(b, np.uint8, offset=4 + 4 * b[3]).reshape(dims)
        xtr, ytr = idx("train-images-idx3-ubyte")[:2000], idx("train-labels-idx1-ubyte")[:2000]
        xte, yte = idx("t10k-images-idx3-ubyte")[:500], idx("t10k-labels-idx1-ubyte")[:500]
        f = xtr.astype(np.float32) / 255
        m, s = f.mean(), f.std()
        z = lambda x: ((x.astype(np.float32) / 255 - m) / s)[..., None].astype(np.float32)
        np.savez_compressed(f"{d}/train.npz", images=z(xtr), labels=ytr.astype(np.int64))
        np.savez(f"{d}/test.npz", images=z(xte), labels=yte.astype(np.int64))
        z(xtr).transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/ref.bin")
        import os; os.mkdir(f"{d}/npy")
        for name, a in [("X_train", xtr[..., None]), ("y_train", ytr.astype(np.int64)),
                        ("X_test", xte[..., None]), ("y_test", yte.astype(np.int64))]:
            np.save(f"{d}/npy/{name}.npy", a)
        """

    /// numpy's files through the config and the runner: the loaded tensors equal numpy's
    /// values, and one epoch of LeNet-300-100 learns (test accuracy > 0.7 on 500 images; chance is 0.1).
    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"))
    func numpyFilesTrainThroughTheRunner() throws {
        try withScratchFolder("npz-run") { dir in
            _ = try TestSupport.python(["-c", Self.mnistWriter, TestSupport.root.path, dir.path])
            let npz = """
                {"name": "npz", "seed": 1,
                 "data": {"format": "npz", "train_file": "train.npz", "test_file": "test.npz", "layout": "nhwc",
                          "x_train": "images", "y_train": "labels", "x_test": "images", "y_test": "labels"},
                 "model": {"preset": "lenet-300-100"}, "training": {"epochs": 1, "batch_size": 50, "learning_rate": 0.05}}
                """
            let npy = """
                {"name": "npy", "seed": 1, "data": {"format": "npy", "dir": "npy", "layout": "nhwc"},
                 "model": {"preset": "lenet-300-100"}, "training": {"epochs": 1, "batch_size": 50, "learning_rate": 0.05}}
                """
            for (name, text) in [("npz", npz), ("npy", npy)] {
                let path = dir.appendingPathComponent("\(name).json")
                try Data(text.utf8).write(to: path)
                let config = try ConfigLoader.load(path: path.path)
                let data = try config.data.load()
                #expect(data.train.images.shape == [2000, 1, 28, 28] && data.test.count == 500)
                if name == "npz" {
                    #expect(data.train.images.scalars == (try Self.floats(dir.appendingPathComponent("ref.bin"))))
                } else {
                    let idx = try MNISTLoader.load(directory: TestSupport.root.appendingPathComponent("data/mnist").path)
                    #expect(data.train.images.scalars == Array(idx.train.images.scalars[0..<(2000 * 784)]))
                    #expect(data.test.labels == Array(idx.test.labels[0..<500]))
                }
                let out = dir.appendingPathComponent("run-\(name)")
                _ = try Runner.run(config, options: RunOptions(outDir: out.path, progress: false))
                let summary = try CSVReader.read(out.appendingPathComponent("summary.csv"))
                let column = try #require(summary[0].firstIndex(of: "test_accuracy"))
                let accuracy = try #require(Double(summary[1][column]))
                #expect(accuracy > 0.7, "\(name): test accuracy \(accuracy) after one epoch")
            }
        }
    }

    /// An HDF5 float dataset (h5py) of z-scored values, negative and above 1, loads as it is.
    @Test(.enabled(if: ExternalRequirement.python("numpy, h5py").present || TestSupport.inCI, "h5py is missing"))
    func zScoredHDF5FloatsAreTakenAsTheyAre() throws {
        try withScratchFolder("h5-z") { dir in
            let writer = """
                import sys, h5py, numpy as np
                d = sys.argv[1]
                x = np.random.default_rng(2).standard_normal((6, 4, 3, 2)).astype(np.float32) * 3
                with h5py.File(f"{d}/z.h5", "w") as f:
                    f["X_train"] = x; f["y_train"] = np.arange(6) % 2; f["X_test"] = x[:2]; f["y_test"] = np.array([1, 0])
                x.transpose(0, 3, 1, 2).astype("<f4").tofile(f"{d}/ref.bin")
                """
            _ = try TestSupport.python(["-c", writer, dir.path])
            let split = try HDF5ImageSet.load(trainFile: dir.appendingPathComponent("z.h5").path)
            let expected = try Self.floats(dir.appendingPathComponent("ref.bin"))
            #expect(split.train.images.scalars == expected)
            #expect(expected.contains { $0 < 0 } && expected.contains { $0 > 1 })
        }
    }

    /// Writes the bad files of `badCases` with numpy.
    static let badWriter = """
        import sys, numpy as np
        d = sys.argv[1]
        x = np.zeros((4, 3, 3, 1), np.float32); y = np.array([0, 1, 0, 1])
        np.savez(f"{d}/ok.npz", x=x, y=y)
        np.savez(f"{d}/short.npz", x=x, y=y[:3])
        np.savez(f"{d}/fraction.npz", x=x, y=np.array([0, 1.5, 0, 1]))
        np.savez(f"{d}/rank.npz", x=x.reshape(4, 9), y=y)
        np.savez(f"{d}/nan.npz", x=np.full((4, 3, 3, 1), np.nan, np.float32), y=y)
        np.savez(f"{d}/bytes.npz", x=np.full((4, 3, 3, 1), 300, np.int16), y=y)
        np.savez(f"{d}/complex.npz", x=x.astype(np.complex64), y=y)
        np.save(f"{d}/fortran.npy", np.asfortranarray(np.zeros((4, 3, 3, 2), np.float32)))
        np.save(f"{d}/c.npy", np.zeros((4, 3, 3, 2), np.float32))
        open(f"{d}/truncated.npy", "wb").write(open(f"{d}/c.npy", "rb").read()[:-5])
        np.save(f"{d}/y.npy", y)
        open(f"{d}/notzip.npz", "wb").write(b"not a zip archive at all, just text")
        """

    struct BadCase: CustomTestStringConvertible, Sendable {
        var label: String
        var file: String
        var x = "x"
        var y = "y"
        var message: String
        var testDescription: String { label }
    }

    static let badCases: [BadCase] = [
        BadCase(label: "missing array", file: "ok.npz", y: "labels", message: "no array 'labels' (has: x, y)"),
        BadCase(label: "mismatched N", file: "short.npz", message: "array 'y' has 3 labels but array 'x' has 4 images"),
        BadCase(
            label: "labels not integers", file: "fraction.npz",
            message: "array 'y' has label 1.5 at sample 1; labels must be integers (dtype <f8)"),
        BadCase(
            label: "wrong rank for the layout", file: "rank.npz",
            message: "array 'x' has shape [4, 9]; layout 'nhwc' needs rank 4 (N, H, W, C) (data.layout)"),
        BadCase(label: "NaN input", file: "nan.npz", message: "array 'x' has value nan at sample 0, not finite"),
        BadCase(
            label: "integer above 255", file: "bytes.npz",
            message:
                "array 'x' has value 300.0 at sample 0, outside 0...255 for integer type <i2 (store floats to take values as they are)"
        ),
        BadCase(
            label: "complex dtype", file: "complex.npz",
            message: "array 'x': dtype '<c8' is not a float (f2, f4, f8) or integer (i1-i8, u1-u8) type"),
        BadCase(label: "not a zip", file: "notzip.npz", message: "not a zip archive (an .npz file is the zip archive numpy.savez writes)"),
        BadCase(
            label: "fortran order", file: "fortran.npy",
            message: "fortran_order arrays are not supported; save a C-order array (numpy.ascontiguousarray)"),
        BadCase(
            label: "truncated npy", file: "truncated.npy",
            message: "holds 283 data bytes; shape [4, 3, 3, 2] of <f4 needs 288 (truncated)"),
    ]

    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"), arguments: badCases)
    func badFilesFailInOneLineNamingFileAndArray(_ bad: BadCase) throws {
        try withScratchFolder("npz-bad") { dir in
            _ = try TestSupport.python(["-c", Self.badWriter, dir.path])
            let message = thrownMessage {
                if bad.file.hasSuffix(".npz") {
                    let keys = HDF5ImageSet.Keys(xTrain: bad.x, yTrain: bad.y, xTest: bad.x, yTest: bad.y)
                    _ = try ArrayImageSet.loadNPZ(
                        trainFile: dir.appendingPathComponent(bad.file).path, testFile: nil, keys: keys, layout: .nhwc)
                } else {
                    let keys = HDF5ImageSet.Keys(xTrain: bad.file, yTrain: "y", xTest: bad.file, yTest: "y")
                    _ = try ArrayImageSet.loadNPY(directory: dir.path, keys: keys, layout: .nhwc)
                }
            }
            #expect(message == "\(dir.appendingPathComponent(bad.file).path): \(bad.message)")
            #expect(message?.contains("\n") == false)
        }
    }

    /// Through the binary: exit 1, one `prunelab: error:` line naming the file and the array
    /// or folder, and no run folder written.
    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"))
    func commandLineReportsBadDataInOneLine() throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        try withScratchFolder("npz-cli") { dir in
            _ = try TestSupport.python(["-c", Self.badWriter, dir.path])
            for folder in ["photos/train/cat", "photos/test/cat"] {
                try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            let cases = [
                (
                    #"{"format": "npz", "train_file": "ok.npz", "layout": "nhwc", "x_train": "x", "y_train": "labels", "x_test": "x", "y_test": "y"}"#,
                    "\(dir.path)/ok.npz: no array 'labels' (has: x, y)"
                ),
                (
                    #"{"format": "images", "dir": "photos"}"#,
                    "\(dir.path)/photos/train/cat: empty class folder: no .png, .jpg or .jpeg file"
                ),
            ]
            for (data, expected) in cases {
                let config = dir.appendingPathComponent("c.json")
                try Data(#"{"data": \#(data), "model": {"preset": "lenet-300-100"}}"#.utf8).write(to: config)
                let out = dir.appendingPathComponent("run")
                let r = try TestSupport.run(exe.path, ["run", config.path, "--out", out.path, "--no-progress"])
                #expect(r.status == 1 && r.exited)
                #expect(r.errors == "prunelab: error: \(expected)\n")
                #expect(!FileManager.default.fileExists(atPath: out.path))
            }
        }
    }

    /// Every prefix of a stored and a deflated `.npz` and of a `.npy`, and every single-byte
    /// change of them, either loads or fails with a one-line `DatasetError`: no trap, no hang.
    @Test(.enabled(if: numpy.present || TestSupport.inCI, "numpy is missing"))
    func damagedFilesFailCleanly() throws {
        try withScratchFolder("npz-damage") { dir in
            let writer = """
                import sys, numpy as np
                d = sys.argv[1]
                x = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2); y = np.array([0, 1])
                np.savez(f"{d}/stored.npz", x=x, y=y); np.savez_compressed(f"{d}/deflated.npz", x=x, y=y)
                np.save(f"{d}/x.npy", x)
                """
            _ = try TestSupport.python(["-c", writer, dir.path])
            for name in ["stored.npz", "deflated.npz", "x.npy"] {
                let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
                var variants = (0..<bytes.count).map { Array(bytes.prefix($0)) }
                for i in 0..<bytes.count {
                    var changed = bytes
                    changed[i] ^= 0xA5
                    variants.append(changed)
                }
                for v in variants {
                    do {
                        if name.hasSuffix(".npz") {
                            let zip = try ZipArchive(v, file: name)
                            for m in zip.members { _ = try NumpyArray.parse(try zip.contents(of: m), file: name, array: m.name) }
                        } else {
                            _ = try NumpyArray.parse(v, file: name)
                        }
                    } catch let error as DatasetError {
                        #expect(error.file == name && !error.message.contains("\n"))
                    }
                }
                // the undamaged file loads
                if name.hasSuffix(".npz") {
                    let zip = try ZipArchive(bytes, file: name)
                    #expect(zip.members.map(\.name) == ["x.npy", "y.npy"])
                    #expect(try NumpyArray.parse(try zip.contents(of: zip.members[0]), file: name).floats() == (0..<24).map { Float($0) })
                } else {
                    #expect(try NumpyArray.parse(bytes, file: name).shape == [2, 3, 2, 2])
                }
            }
        }
    }

    /// Keys the array formats need or refuse are one-line config errors naming the key.
    @Test func formatKeysAreChecked() throws {
        let cases: [(String, String)] = [
            (#""format": "npz", "train_file": "a.npz""#, "key 'data.layout': required when data.format is \"npz\": nhwc, nchw or nhw"),
            (#""format": "idx", "dir": "d", "layout": "nhwc""#, "key 'data.layout': only for data.format npy or npz"),
            (#""format": "npy", "dir": "d", "layout": "hwc""#, "key 'data.layout': must be one of nhw, nhwc, nchw; got \"hwc\""),
            (#""format": "npy", "layout": "nhw""#, "key 'data.dir': required when data.format is \"npy\""),
            (#""format": "images", "dir": "d", "channels": 2"#, "key 'data.channels': must be 1 or 3, got 2"),
            (#""format": "images", "dir": "d", "image_size": [4]"#, "key 'data.image_size': must be [H, W] with H, W >= 1, got [4]"),
            (#""format": "idx", "dir": "d", "image_size": [4, 4]"#, "key 'data.image_size': only for data.format images"),
        ]
        for (data, expected) in cases {
            let text = #"{"data": {\#(data)}, "model": {"preset": "lenet-300-100"}}"#
            let message = thrownMessage { _ = try ConfigLoader.decode(Data(text.utf8)) }
            #expect(message == expected, "\(data)")
        }
    }
}

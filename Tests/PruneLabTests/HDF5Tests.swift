import Datasets
import Foundation
import HDF5Support
import Testing
import TensorCore

// Fixtures come from Fixtures/make_h5_fixtures.py (h5py); the formulas below mirror it.

/// The absolute path of fixture `<name>.h5` in the test bundle.
private func h5Fixture(_ name: String) throws -> String {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: "h5", subdirectory: "Fixtures"),
        "fixture \(name).h5 is missing; run Fixtures/make_h5_fixtures.py")
    return url.path
}

/// `pixel[n, h, w, c]` as written by the fixture script, before scaling.
private func h5FixturePixel(_ n: Int, _ h: Int, _ w: Int, _ c: Int, offset: Int) -> Int {
    (n * 37 + h * 11 + w * 5 + c * 3 + offset) % 256
}

/// Runs `body` with a fresh temporary directory, removed afterwards.
private func withH5TempDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("prunelab-hdf5-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// The error `body` throws as `E`, recording an issue when it throws nothing or something else.
private func h5Error<E: Error>(_: E.Type, _ body: () throws -> Void) -> E? {
    do {
        try body()
        Issue.record("expected \(E.self), nothing was thrown")
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected \(E.self), got \(type(of: error)): \(error)")
    }
    return nil
}

/// Checks `images` (`[N, C, H, W]`) holds the fixture formula divided by 255, channels first.
private func expectFixturePixels(_ images: Tensor, offset: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    var mismatches = 0
    for s in 0..<n {
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    let expected = Float(h5FixturePixel(s, y, x, ch, offset: offset)) / 255
                    if images.scalars[((s * c + ch) * h + y) * w + x] != expected { mismatches += 1 }
                }
            }
        }
    }
    #expect(mismatches == 0, "\(mismatches) pixels differ from the fixture formula", sourceLocation: sourceLocation)
}

// MARK: - Low-level reader

@Suite struct HDF5ReaderTests {
    @Test func listsDatasetsAndShapes() throws {
        let file = try HDF5File(path: try h5Fixture("carvnocar_small"))
        #expect(try file.datasetNames() == ["X_test", "X_train", "y_test", "y_train"])
        #expect(file.hasDataset("X_train"))
        #expect(!file.hasDataset("nope"))
        #expect(!file.hasDataset("nope/deeper"))
        #expect(try file.shape(of: "X_train") == [6, 5, 8, 3])
        #expect(try file.storedType(of: "X_train") == .integer(bits: 8, signed: false))
        #expect(try file.storedType(of: "y_train") == .integer(bits: 64, signed: true))
    }

    @Test func groupsAreNotDatasets() throws {
        let file = try HDF5File(path: try h5Fixture("mixed_types"))
        #expect(try file.datasetNames() == ["int8", "names", "scalar", "uint16"])
        #expect(try file.datasetNames(in: "fc1") == ["weight"])
        #expect(file.hasGroup("fc1"))
        #expect(!file.hasDataset("fc1"))
        #expect(file.hasDataset("fc1/weight"))
        #expect(file.hasDataset("/fc1/weight"))
    }

    @Test func convertsStoredTypesThroughTheMemoryType() throws {
        let file = try HDF5File(path: try h5Fixture("mixed_types"))
        #expect(try file.readFloats("int8").values == [-128, -1, 0, 1, 127])
        #expect(try file.readInt64s("int8").values == [-128, -1, 0, 1, 127])
        let uint16 = try file.readDoubles("uint16")
        #expect(uint16.shape == [2, 2])
        #expect(uint16.values == [0, 1000, 65535, 7])
        let scalar = try file.readInt64s("scalar")
        #expect(scalar.shape == [])
        #expect(scalar.values == [7])
        let weight = try file.readFloats("fc1/weight")
        #expect(weight.shape == [2, 3])
        #expect(weight.values == [0, 0.25, 0.5, 0.75, 1, 1.25])
        #expect(try file.read("uint16", as: UInt8.self).values == [0, 255, 255, 7])  // clamped
    }

    @Test func refusesLossyOrNonNumericReads() throws {
        let path = try h5Fixture("mixed_types")
        let file = try HDF5File(path: path)
        let lossy = h5Error(HDF5Error.self) { _ = try file.readInt64s("fc1/weight") }
        #expect(lossy?.description == "\(path): dataset 'fc1/weight': stored type float32 cannot be read as integers without rounding")
        let strings = h5Error(HDF5Error.self) { _ = try file.readFloats("names") }
        #expect(strings?.description == "\(path): dataset 'names': stored type string is not numeric")
        let missing = h5Error(HDF5Error.self) { _ = try file.readFloats("nope") }
        #expect(missing?.description == "\(path): dataset 'nope': no such dataset")
    }

    @Test func readsAttributesWrittenByH5py() throws {
        let path = try h5Fixture("mixed_types")
        let file = try HDF5File(path: path)
        #expect(try file.attributeString("title") == "PruneLab fixture")
        #expect(try file.attributeString("fixed") == "fixed-len")
        #expect(try file.attributeDouble("lr") == 0.125)
        #expect(try file.attributeInt("epochs") == 12)
        #expect(try file.attributeDouble("epochs") == 12)
        #expect(try file.attributeInt("ratio") == 2)
        #expect(try file.attributeString("layer", on: "fc1") == "dense")
        #expect(try file.attributeInt("units", on: "fc1/weight") == 3)
        #expect(file.hasAttribute("units", on: "fc1/weight"))
        #expect(!file.hasAttribute("units"))
        #expect(!file.hasAttribute("units", on: "no/such/path"))

        let pair = h5Error(HDF5Error.self) { _ = try file.attributeInt("pair") }
        #expect(pair?.description == "\(path): attribute 'pair' on '/': holds 2 values, expected one")
        let missing = h5Error(HDF5Error.self) { _ = try file.attributeString("nope", on: "fc1") }
        #expect(missing?.description == "\(path): attribute 'nope' on 'fc1': no such attribute")
        let notString = h5Error(HDF5Error.self) { _ = try file.attributeString("lr") }
        #expect(notString?.description == "\(path): attribute 'lr' on '/': stored type float64 is not a string")
        let noObject = h5Error(HDF5Error.self) { _ = try file.attributeString("x", on: "fc2") }
        #expect(noObject?.description == "\(path): object 'fc2': no such group or dataset")
    }

    @Test func compressedDatasetsReadLikeContiguousOnes() throws {
        let plain = try HDF5File(path: try h5Fixture("carvnocar_small"))
        let packed = try HDF5File(path: try h5Fixture("carvnocar_gzip"))
        for name in ["X_train", "X_test"] {
            let a = try plain.readFloats(name)
            let b = try packed.readFloats(name)
            #expect(a.shape == b.shape)
            #expect(a.values == b.values)
        }
        let labels = try packed.readDoubles("y_train")
        #expect(labels.shape == [6, 1])
        #expect(labels.values == [0, 1, 1, 0, 1, 0])
    }

    @Test func notAnHDF5FileIsNamed() throws {
        let path = try h5Fixture("not_hdf5")
        let error = h5Error(HDF5Error.self) { _ = try HDF5File(path: path) }
        #expect(error?.description == "\(path): not an HDF5 file")
    }

    @Test func missingFileIsNamed() throws {
        let error = h5Error(HDF5Error.self) { _ = try HDF5File(path: "/nonexistent/x.h5") }
        #expect(error?.description == "/nonexistent/x.h5: no such file")
    }

    @Test func closedFileThrows() throws {
        let path = try h5Fixture("carvnocar_small")
        let file = try HDF5File(path: path)
        try file.close()
        try file.close()
        let error = h5Error(HDF5Error.self) { _ = try file.shape(of: "X_train") }
        #expect(error?.description == "\(path): file is closed")
        #expect(!file.hasDataset("X_train"))
    }
}

// MARK: - Writer

@Suite struct HDF5WriterTests {
    /// Writes one file touching every writer entry point; returns its path.
    static func writeSample(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("sample.h5").path
        let file = try HDF5File(creating: path)
        try file.writeDataset("fc1/weight", shape: [2, 3], values: [Float](arrayLiteral: 0.5, -1, 2, 3.25, 0, 1e-3))
        try file.createGroup("fc1")  // existing group: no-op
        try file.createGroup("meta/inner")
        try file.writeDataset("fc1/bias", shape: [3], values: [Int32(-7), 0, 7], gzipLevel: 4)
        try file.writeDataset("masks/fc1", shape: [2, 3], values: [UInt8](arrayLiteral: 1, 0, 1, 1, 1, 0), gzipLevel: 9)
        try file.writeDataset("counts", shape: [2], values: [UInt16(65535), 3])
        try file.writeDataset("steps", shape: [], values: [Int64(-42)])
        try file.writeDataset("empty", shape: [0, 4], values: [Double](), gzipLevel: 1)
        try file.setAttribute("name", "lenet-300-100 ünïcode")
        try file.setAttribute("lr", 0.1)
        try file.setAttribute("epochs", 3)
        try file.setAttribute("epochs", 30)  // replaced
        try file.setAttribute("layer", "dense", on: "fc1")
        try file.setAttribute("sparsity", 0.75, on: "fc1/weight")
        try file.close()
        return path
    }

    @Test func roundTripsDatasetsAndAttributes() throws {
        try withH5TempDirectory { dir in
            let file = try HDF5File(path: try Self.writeSample(in: dir))
            #expect(try file.datasetNames() == ["counts", "empty", "steps"])
            #expect(try file.datasetNames(in: "fc1") == ["bias", "weight"])
            #expect(file.hasGroup("meta/inner"))
            let weight = try file.readFloats("fc1/weight")
            #expect(weight.shape == [2, 3])
            #expect(weight.values == [0.5, -1, 2, 3.25, 0, 1e-3])
            #expect(try file.storedType(of: "fc1/weight") == .float(bits: 32))
            #expect(try file.read("fc1/bias", as: Int32.self).values == [-7, 0, 7])
            #expect(try file.read("masks/fc1", as: UInt8.self).values == [1, 0, 1, 1, 1, 0])
            #expect(try file.storedType(of: "masks/fc1") == .integer(bits: 8, signed: false))
            #expect(try file.read("counts", as: UInt16.self).values == [65535, 3])
            let steps = try file.readInt64s("steps")
            #expect(steps.shape == [] && steps.values == [-42])
            let empty = try file.readDoubles("empty")
            #expect(empty.shape == [0, 4] && empty.values.isEmpty)
            #expect(try file.attributeString("name") == "lenet-300-100 ünïcode")
            #expect(try file.attributeDouble("lr") == 0.1)
            #expect(try file.attributeInt("epochs") == 30)
            #expect(try file.attributeString("layer", on: "fc1") == "dense")
            #expect(try file.attributeDouble("sparsity", on: "fc1/weight") == 0.75)
        }
    }

    @Test func largeCompressedDatasetIsChunkedAndReadsBack() throws {
        try withH5TempDirectory { dir in
            let path = dir.appendingPathComponent("big.h5").path
            let values = (0..<(300 * 1000)).map { Float($0 % 977) * 0.5 }  // 1.2 MB: several chunks
            let writer = try HDF5File(creating: path)
            try writer.writeDataset("w", shape: [300, 1000], values: values, gzipLevel: 1)
            try writer.close()
            let back = try HDF5File(path: path).readFloats("w")
            #expect(back.shape == [300, 1000])
            #expect(back.values == values)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
            #expect(size < values.count * 4 / 2, "gzip should at least halve this data, file is \(size) bytes")
        }
    }

    @Test func refusesToOverwriteOrWriteReadOnly() throws {
        try withH5TempDirectory { dir in
            let path = dir.appendingPathComponent("w.h5").path
            let file = try HDF5File(creating: path)
            try file.writeDataset("a", shape: [1], values: [Float(1)])
            let twice = h5Error(HDF5Error.self) { try file.writeDataset("a", shape: [1], values: [Float(2)]) }
            #expect(twice?.description == "\(path): dataset 'a': already exists")
            let notGroup = h5Error(HDF5Error.self) { try file.createGroup("a") }
            #expect(notGroup?.description == "\(path): group 'a': exists and is not a group")
            try file.close()
            let reader = try HDF5File(path: path)
            let readOnly = h5Error(HDF5Error.self) { try reader.setAttribute("x", 1, on: "a") }
            #expect(readOnly?.description == "\(path): attribute 'x' on 'a': file is open read-only")
        }
    }

    @Test func createInUnwritableDirectoryNamesTheCall() throws {
        let error = h5Error(HDF5Error.self) { _ = try HDF5File(creating: "/nonexistent-dir/x.h5") }
        #expect(error?.description == "/nonexistent-dir/x.h5: cannot create: No such file or directory")
        #expect(error?.description.contains("\n") == false)
    }

    /// h5py is the independent reader these checks rest on; scripts/deps.sh installs it, and a
    /// machine without it fails here (with this message) rather than skipping silently.
    static func requireH5py() throws {
        guard TestSupport.pythonImports("h5py, numpy") else {
            Issue.record("python3 with h5py and numpy is required (bash scripts/deps.sh installs them)")
            throw TestSupport.PythonFailed(status: -1, stderr: "cannot import h5py, numpy")
        }
    }

    @Test func h5pyReadsOurFiles() throws {
        try Self.requireH5py()
        let script = """
            import sys, json, h5py
            f = h5py.File(sys.argv[1], "r")
            def attr(v):
                return v.decode() if isinstance(v, bytes) else (v if isinstance(v, str) else v.item())
            out = {
                "weight": [float(x) for x in f["fc1/weight"][()].ravel()],
                "weight_shape": list(f["fc1/weight"].shape),
                "weight_dtype": str(f["fc1/weight"].dtype),
                "bias": [int(x) for x in f["fc1/bias"][()]],
                "bias_compression": f["fc1/bias"].compression,
                "mask_dtype": str(f["masks/fc1"].dtype),
                "counts": [int(x) for x in f["counts"][()]],
                "steps": int(f["steps"][()]),
                "name_is_str": isinstance(f.attrs["name"], str),
                "name": attr(f.attrs["name"]),
                "lr": attr(f.attrs["lr"]),
                "epochs": attr(f.attrs["epochs"]),
                "layer": attr(f["fc1"].attrs["layer"]),
                "sparsity": attr(f["fc1/weight"].attrs["sparsity"]),
            }
            print(json.dumps(out))
            """
        try withH5TempDirectory { dir in
            let path = try Self.writeSample(in: dir)
            let json = try TestSupport.python(["-c", script, path])
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8))
            let seen = try #require(object as? [String: Any])
            #expect((seen["weight"] as? [Double])?.map { Float($0) } == [0.5, -1, 2, 3.25, 0, 1e-3])
            #expect(seen["weight_shape"] as? [Int] == [2, 3])
            #expect(seen["weight_dtype"] as? String == "float32")
            #expect(seen["bias"] as? [Int] == [-7, 0, 7])
            #expect(seen["bias_compression"] as? String == "gzip")
            #expect(seen["mask_dtype"] as? String == "uint8")
            #expect(seen["counts"] as? [Int] == [65535, 3])
            #expect(seen["steps"] as? Int == -42)
            #expect(seen["name_is_str"] as? Bool == true)
            #expect(seen["name"] as? String == "lenet-300-100 ünïcode")
            #expect(seen["lr"] as? Double == 0.1)
            #expect(seen["epochs"] as? Int == 30)
            #expect(seen["layer"] as? String == "dense")
            #expect(seen["sparsity"] as? Double == 0.75)
        }
    }
}

// MARK: - Image sets

@Suite struct HDF5ImageSetTests {
    @Test func loadsCarvnocarLayoutChannelsFirst() throws {
        let split = try HDF5ImageSet.load(
            trainFile: try h5Fixture("carvnocar_small"), testFile: nil,
            keys: HDF5ImageSet.Keys())
        #expect(split.train.images.shape == [6, 3, 5, 8])
        #expect(split.test.images.shape == [4, 3, 5, 8])
        expectFixturePixels(split.train.images, offset: 1)
        expectFixturePixels(split.test.images, offset: 101)
        #expect(split.train.labels == [0, 1, 1, 0, 1, 0])
        #expect(split.test.labels == [1, 0, 0, 1])
        #expect(split.train.classCount == 2 && split.test.classCount == 2)
        #expect(split.train.name == "carvnocar_small:X_train")
        // One spot checked by hand: [n=1, h=2, w=3, c=2] = 37 + 22 + 15 + 6 + 1 = 81.
        #expect(split.train.images.scalars[((1 * 3 + 2) * 5 + 2) * 8 + 3] == Float(81) / 255)
    }

    @Test func compressedVariantLoadsIdentically() throws {
        let plain = try HDF5ImageSet.load(trainFile: try h5Fixture("carvnocar_small"), testFile: nil, keys: .init())
        let packed = try HDF5ImageSet.load(trainFile: try h5Fixture("carvnocar_gzip"), testFile: nil, keys: .init())
        #expect(packed.train.images == plain.train.images)
        #expect(packed.test.images == plain.test.images)
        #expect(packed.train.labels == plain.train.labels)
        #expect(packed.test.labels == plain.test.labels)
    }

    @Test func loadsCatvnoncatPairWithRowLabels() throws {
        let split = try HDF5ImageSet.load(
            trainFile: try h5Fixture("catvnoncat_train_small"),
            testFile: try h5Fixture("catvnoncat_test_small"), keys: .catvnoncat)
        #expect(split.train.images.shape == [5, 3, 4, 6])
        #expect(split.test.images.shape == [3, 3, 4, 6])
        expectFixturePixels(split.train.images, offset: 7)
        expectFixturePixels(split.test.images, offset: 50)
        #expect(split.train.labels == [1, 0, 1, 1, 0])
        #expect(split.test.labels == [0, 1, 1])
        #expect(split.train.classCount == 2)
    }

    /// Float images are taken as they are, whatever their range (integers are / 255).
    @Test func grayscaleFloatImagesAreTakenAsTheyAre() throws {
        let split = try HDF5ImageSet.load(trainFile: try h5Fixture("gray_float"), testFile: nil, keys: .init())
        #expect(split.train.images.shape == [3, 1, 4, 5])
        #expect(split.test.images.shape == [2, 1, 4, 5])
        // k = n*20 + h*5 + w, so the flat index of a C = 1 image is exactly k.
        #expect(split.train.images.scalars == (0..<60).map { Float($0) / 64 })
        #expect(split.test.images.scalars == (0..<40).map { Float($0 * 3) })
        #expect(split.train.labels == [0, 1, 0])
        #expect(split.test.labels == [1, 0])
    }

    @Test func classCountBoundsLabels() throws {
        let path = try h5Fixture("bad_label_range")
        let inferred = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init())
        #expect(inferred.train.classCount == 3 && inferred.test.classCount == 3)
        let error = h5Error(DatasetError.self) {
            _ = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init(), classCount: 2)
        }
        #expect(error?.description == "\(path): dataset 'y_train' has label 2 at sample 2, outside 0..<2")
    }

    @Test func countMismatchIsNamed() throws {
        let path = try h5Fixture("mismatched_counts")
        let error = h5Error(DatasetError.self) { _ = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init()) }
        #expect(error?.description == "\(path): dataset 'y_train' has 5 labels but dataset 'X_train' has 6 images")
    }

    @Test func missingDatasetListsThePresentOnes() throws {
        let path = try h5Fixture("missing_y_test")
        let error = h5Error(DatasetError.self) { _ = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init()) }
        #expect(error?.description == "\(path): no dataset 'y_test' (datasets: X_test, X_train, y_train)")
        let wrongPreset = h5Error(DatasetError.self) {
            _ = try HDF5ImageSet.load(trainFile: try h5Fixture("carvnocar_small"), testFile: nil, keys: .catvnoncat)
        }
        #expect(wrongPreset?.message == "no dataset 'train_set_x' (datasets: X_test, X_train, y_test, y_train)")
    }

    @Test func notHDF5AndMissingFilesAreNamed() throws {
        let path = try h5Fixture("not_hdf5")
        let notHDF5 = h5Error(HDF5Error.self) { _ = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init()) }
        #expect(notHDF5?.description == "\(path): not an HDF5 file")
        let missingTest = h5Error(HDF5Error.self) {
            _ = try HDF5ImageSet.load(
                trainFile: try h5Fixture("catvnoncat_train_small"),
                testFile: "/nonexistent/test.h5", keys: .catvnoncat)
        }
        #expect(missingTest?.description == "/nonexistent/test.h5: no such file")
    }

    /// A bad file written with our own writer and the message its loading must produce.
    struct BadCase: CustomTestStringConvertible, Sendable {
        var label: String
        var imageShape: [Int] = [2, 2, 3, 1]
        var images: [Float]? = nil
        var labelShape: [Int] = [2]
        var labels: [Double] = [0, 1]
        var testImageShape: [Int] = [2, 2, 3, 1]
        var integerImages = true
        var message: String
        var testDescription: String { label }
    }

    static let badCases: [BadCase] = [
        BadCase(
            label: "fractional label", labels: [0, 0.5],
            message: "dataset 'y_train' has label 0.5 at sample 1; labels must be whole numbers"),
        BadCase(
            label: "negative label", labels: [-1, 1],
            message: "dataset 'y_train' has negative label -1 at sample 0"),
        BadCase(
            label: "huge label", labels: [0, 1e12],
            message: "dataset 'y_train' has label 1000000000000.0 at sample 1, too large for a class index"),
        BadCase(
            label: "labels (2,3)", labelShape: [2, 3], labels: [0, 1, 0, 1, 0, 1],
            message: "dataset 'y_train' has shape [2, 3]; expected labels (N), (1,N) or (N,1)"),
        BadCase(
            label: "images rank 2", imageShape: [2, 6],
            message: "dataset 'X_train' has shape [2, 6]; expected images (N,H,W,C) or (N,H,W)"),
        BadCase(
            label: "train/test sample shapes differ", testImageShape: [2, 3, 2, 1],
            message: "dataset 'X_test' has samples (H,W,C) [3, 2, 1] but train dataset 'X_train' in <path> has [2, 3, 1]"),
        BadCase(
            label: "integer pixel above 255", images: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 300],
            message: "dataset 'X_train' has pixel value 300.0 at sample 1, outside 0...255 for stored type uint16"),
        BadCase(
            label: "NaN float pixel", images: [0, -1.5, 300, 0, 0, 0, 0, 0, 0, 0, 0, .nan],
            integerImages: false,
            message: "dataset 'X_train' has pixel value nan at sample 1, not finite"),
    ]

    @Test(arguments: badCases)
    func badDataIsNamed(_ bad: BadCase) throws {
        try withH5TempDirectory { dir in
            let path = dir.appendingPathComponent("bad.h5").path
            let file = try HDF5File(creating: path)
            let count = bad.imageShape.reduce(1, *)
            let images = bad.images ?? (0..<count).map { Float($0 % 256) }
            if bad.integerImages {
                try file.writeDataset("X_train", shape: bad.imageShape, values: images.map { UInt16($0) })
            } else {
                try file.writeDataset("X_train", shape: bad.imageShape, values: images)
            }
            try file.writeDataset("y_train", shape: bad.labelShape, values: bad.labels)
            try file.writeDataset(
                "X_test", shape: bad.testImageShape,
                values: [UInt8](repeating: 9, count: bad.testImageShape.reduce(1, *)))
            try file.writeDataset("y_test", shape: [1, 2], values: [Int64(1), 0])
            try file.close()
            let error = h5Error(DatasetError.self) { _ = try HDF5ImageSet.load(trainFile: path, testFile: nil, keys: .init()) }
            #expect(error?.file == path)
            #expect(error?.message == bad.message.replacingOccurrences(of: "<path>", with: path))
            #expect(error?.description.contains("\n") == false)
        }
    }

    @Test func loadsTheRealCatvnoncatFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let train = root.appendingPathComponent("data/catvnoncat/train_catvnoncat.h5").path
        let test = root.appendingPathComponent("data/catvnoncat/test_catvnoncat.h5").path
        try #require(FileManager.default.fileExists(atPath: train), "missing \(train)")
        let split = try HDF5ImageSet.load(trainFile: train, testFile: test, keys: .catvnoncat)
        #expect(split.train.count == 209)
        #expect(split.test.count == 50)
        #expect(split.train.sampleShape == [3, 64, 64])
        #expect(split.test.sampleShape == [3, 64, 64])
        #expect(Set(split.train.labels) == [0, 1])
        #expect(Set(split.test.labels) == [0, 1])
        #expect(split.train.classCount == 2)

        // Channels-first transpose against the raw (N, H, W, C) bytes.
        let raw = try HDF5File(path: train).read("train_set_x", as: UInt8.self).values
        for (n, c, h, w) in [(0, 0, 0, 0), (7, 2, 10, 33), (208, 1, 63, 5), (100, 2, 63, 63)] {
            let expected = Float(raw[((n * 64 + h) * 64 + w) * 3 + c]) / 255
            #expect(split.train.images.scalars[((n * 3 + c) * 64 + h) * 64 + w] == expected)
        }
    }
}

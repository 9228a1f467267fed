import Testing
import Foundation
import Schema
import TensorCore
import NN
import Training
@testable import Experiments

/// The trajectory recorder on a tiny model trained on random data, and the export subset.
@Suite struct TrajectoryRecorderTests {
    /// Dense 6->4, ReLU, Dense 4->3 with He weights from `seed`.
    static func model(seed: UInt64 = 5) -> Sequential {
        var rng = RandomSource(seed: seed)
        let m = Sequential(
            layers: [
                Dense(name: "fc1", inputSize: 6, outputSize: 4),
                Activation(name: "act1", kind: .relu),
                Dense(name: "fc2", inputSize: 4, outputSize: 3),
            ],
            inputShape: [6], loss: .softmaxCrossEntropy)
        Initializer.he.initialize(m, rng: &rng)
        return m
    }

    static func trainer(_ model: Sequential, seed: UInt64 = 9) -> (Trainer, SGD) {
        var rng = RandomSource(seed: seed)
        let images = Tensor(shape: [48, 6], scalars: (0..<288).map { _ in Float(rng.nextNormal()) })
        let labels = (0..<48).map { _ in rng.nextInt(below: 3) }
        let opt = SGD(parameters: model.parameters, momentum: 0.9)
        let t = Trainer(
            model: model, optimizer: opt, schedule: LearningRateSchedule(base: 0.1),
            batcher: Batcher(
                images: images, labels: labels, batchSize: 16, shuffle: true,
                rng: rng.derived("data")))
        return (t, opt)
    }

    static func folder() throws -> RunFolder {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("prunelab-trajectories-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return RunFolder(path: url.path)
    }

    static func config(_ json: String) throws -> RecordingConfig {
        try JSONDecoder().decode(RecordingConfig.self, from: Data(json.utf8))
    }

    /// Rows of a CSV as dictionaries keyed by the header.
    static func table(_ url: URL) throws -> (header: [String], rows: [[String: String]]) {
        let rows = try CSVReader.read(url)
        let header = try #require(rows.first)
        for r in rows.dropFirst() { #expect(r.count == header.count) }
        return (header, rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) })
    }

    static func exists(_ folder: RunFolder, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: folder.file(name).path)
    }

    @Test func writesLongFormatRowsEveryKStepsAndRenamesOnFinish() throws {
        let model = Self.model()
        let (trainer, _) = Self.trainer(model)
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let rec = try TrajectoryRecorder(
            config: try Self.config(#"{"every": "5it", "samples_per_layer": 5}"#),
            model: model, folder: folder, rng: RandomSource(seed: 1))
        trainer.observers.append(rec)
        try trainer.train(steps: 30)
        #expect(!Self.exists(folder, "trajectories.csv"))
        #expect(!Self.exists(folder, "layer-trajectories.csv"))
        #expect(Self.exists(folder, ".trajectories.csv.partial"))
        try rec.finish()
        try rec.finish()
        #expect(Self.exists(folder, "trajectories.csv") && Self.exists(folder, "layer-trajectories.csv"))
        #expect(!Self.exists(folder, ".trajectories.csv.partial"))
        #expect(rec.recordCount == 7)

        let (header, rows) = try Self.table(folder.file("trajectories.csv"))
        #expect(header == ["step", "layer", "index", "row", "col", "value", "grad", "update", "masked"])
        #expect(rows.count == 7 * (5 + 5))
        #expect(Set(rows.compactMap { $0["step"].flatMap { Int($0) } }) == Set(stride(from: 0, through: 30, by: 5)))
        #expect(rec.sampledIndices["fc1"]?.count == 5 && rec.sampledIndices["fc2"]?.count == 5)

        for layer in ["fc1", "fc2"] {
            let p = try #require(model.parameter(named: "\(layer).weight"))
            let inSize = p.value.shape[1]
            let mine = rows.filter { $0["layer"] == layer }
            #expect(Set(mine.compactMap { $0["index"].flatMap { Int($0) } }) == Set(rec.sampledIndices[layer] ?? []))
            var previous: [Int: Float] = [:]
            for r in mine {
                let step = try #require(r["step"].flatMap { Int($0) })
                let i = try #require(r["index"].flatMap { Int($0) })
                let value = try #require(r["value"].flatMap { Float($0) })
                let update = try #require(r["update"].flatMap { Float($0) })
                #expect(r["row"] == String(i / inSize) && r["col"] == String(i % inSize))
                #expect(r["masked"] == "0")
                if let prev = previous[i] { #expect(update == value - prev) } else { #expect(step == 0 && update == 0) }
                previous[i] = value
                if step == 30 {
                    #expect(value == p.value.scalars[i])
                    #expect(r["grad"].flatMap { Float($0) } == p.grad.scalars[i])
                }
            }
        }

        let (lheader, lrows) = try Self.table(folder.file("layer-trajectories.csv"))
        #expect(lheader == ["step", "layer", "sparsity", "mean_abs_weight", "mean_abs_update", "fraction_near_linear", "mask_churn"])
        #expect(lrows.count == 7 * 2)
        for r in lrows {
            #expect(r["sparsity"].flatMap { Double($0) } == 0)
            #expect(r["mask_churn"] == "0")
            #expect((r["mean_abs_weight"].flatMap { Double($0) } ?? 0) > 0)
            let near = try #require(r["fraction_near_linear"].flatMap { Double($0) })
            #expect(near >= 0 && near <= 1)
            if r["step"] == "0" { #expect(r["mean_abs_update"] == "0.0") }
        }
        let last = try #require(lrows.last { $0["layer"] == "fc1" && $0["step"] == "30" })
        let w = try #require(model.parameter(named: "fc1.weight")).value.scalars
        let meanAbs = w.reduce(0.0) { $0 + Double(abs($1)) } / Double(w.count)
        #expect(abs((last["mean_abs_weight"].flatMap { Double($0) } ?? 0) - meanAbs) < 1e-6)
    }

    @Test func stratifiedSamplingCoversMagnitudesAndIsDeterministic() throws {
        let model = Self.model()
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let cfg = try Self.config(#"{"samples_per_layer": 4}"#)
        let a = try TrajectoryRecorder(config: cfg, model: model, folder: folder, rng: RandomSource(seed: 3))
        let b = try TrajectoryRecorder(config: cfg, model: model, folder: folder, rng: RandomSource(seed: 3))
        #expect(a.sampledIndices == b.sampledIndices)
        let w = try #require(model.parameter(named: "fc1.weight")).value.scalars
        let rank = (0..<w.count).sorted { abs(w[$0]) < abs(w[$1]) || (abs(w[$0]) == abs(w[$1]) && $0 < $1) }
        let picked = try #require(a.sampledIndices["fc1"])
        #expect(picked == picked.sorted() && picked.count == 4)
        // 24 weights in 4 strata of 6: exactly one pick per stratum, from smallest to largest |w|.
        let strata = picked.compactMap { i in rank.firstIndex(of: i).map { $0 / 6 } }.sorted()
        #expect(strata == [0, 1, 2, 3])

        // Across seeds every stratum is hit and the picks vary.
        var seen = Set<[Int]>()
        for seed in 10..<20 as Range<UInt64> {
            let r = try TrajectoryRecorder(config: cfg, model: model, folder: folder, rng: RandomSource(seed: seed))
            seen.insert(r.sampledIndices["fc1"] ?? [])
        }
        #expect(seen.count > 1)

        let u = try Self.config(#"{"samples_per_layer": 7, "stratify": false}"#)
        let c = try TrajectoryRecorder(config: u, model: model, folder: folder, rng: RandomSource(seed: 4))
        let d = try TrajectoryRecorder(config: u, model: model, folder: folder, rng: RandomSource(seed: 4))
        let ci = try #require(c.sampledIndices["fc2"])
        #expect(ci == d.sampledIndices["fc2"])
        #expect(ci.count == 7 && Set(ci).count == 7 && ci == ci.sorted() && ci.allSatisfy { (0..<12).contains($0) })

        // More samples than weights: every weight.
        let all = try TrajectoryRecorder(
            config: try Self.config(#"{"samples_per_layer": 50}"#),
            model: model, folder: folder, rng: RandomSource(seed: 4))
        #expect(all.sampledIndices["fc2"] == Array(0..<12))
    }

    @Test func explicitIndicesAndLayersAreHonoured() throws {
        let model = Self.model()
        let (trainer, _) = Self.trainer(model)
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let cfg = try Self.config(#"{"every": "10it", "layers": ["fc2"], "indices": {"fc2": [11, 0, 3, 3]}}"#)
        let rec = try TrajectoryRecorder(config: cfg, model: model, folder: folder, rng: RandomSource(seed: 1))
        #expect(rec.layers == ["fc2"])
        #expect(rec.sampledIndices == ["fc2": [0, 3, 11]])
        trainer.observers.append(rec)
        try trainer.train(steps: 20)
        try rec.finish()
        let rows = try Self.table(folder.file("trajectories.csv")).rows
        #expect(rows.count == 3 * 3)
        #expect(rows.allSatisfy { $0["layer"] == "fc2" })
        #expect(rows.prefix(3).map { $0["index"] ?? "" } == ["0", "3", "11"])
        #expect(rows.prefix(3).map { "\($0["row"] ?? ""),\($0["col"] ?? "")" } == ["0,0", "0,3", "2,3"])
        #expect(try Self.table(folder.file("layer-trajectories.csv")).rows.map { $0["layer"] ?? "" } == ["fc2", "fc2", "fc2"])
    }

    @Test func badLayersAndIndicesThrowWithTheirPath() throws {
        let model = Self.model()
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        func path(_ json: String) throws -> String? {
            do {
                _ = try TrajectoryRecorder(config: try Self.config(json), model: model, folder: folder, rng: RandomSource(seed: 1))
                return nil
            } catch let e as ConfigError {
                return e.path
            }
        }
        #expect(try path(#"{"indices": {"fc1": [24]}}"#) == "recording.indices.fc1")
        #expect(try path(#"{"indices": {"fc1": [23], "fc2": [12]}}"#) == "recording.indices.fc2")
        #expect(try path(#"{"indices": {"fc9": [0]}}"#) == "recording.indices.fc9")
        #expect(try path(#"{"layers": ["fc2"], "indices": {"fc1": [0]}}"#) == "recording.indices.fc1")
        #expect(try path(#"{"layers": ["fc9"]}"#) == "recording.layers")
        #expect(try path(#"{"layers": ["act1"]}"#) == "recording.layers")
        #expect(try path(#"{"indices": {"fc1": [0, 23]}}"#) == nil)
        let missing = RunFolder(path: folder.url.appendingPathComponent("absent/deeper").path)
        #expect(throws: RunError.self) {
            _ = try TrajectoryRecorder(config: try Self.config("{}"), model: model, folder: missing, rng: RandomSource(seed: 1))
        }
    }

    @Test func maskedFlipsAndMaskChurnCountsAMidTrainingMask() throws {
        let model = Self.model()
        let (trainer, opt) = Self.trainer(model)
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let cfg = try Self.config(#"{"every": "5it", "indices": {"fc1": [2, 7, 20]}, "samples_per_layer": 2}"#)
        let rec = try TrajectoryRecorder(config: cfg, model: model, folder: folder, rng: RandomSource(seed: 1))
        trainer.observers.append(rec)
        try trainer.train(steps: 10)
        let p = try #require(model.parameter(named: "fc1.weight"))
        var mask = Tensor(shape: p.value.shape, repeating: 1)
        for i in [7, 8, 9] { mask.scalars[i] = 0 }
        p.setMask(mask)
        opt.applyMasksToState()
        try trainer.train(steps: 10)
        try rec.finish()

        let rows = try Self.table(folder.file("trajectories.csv")).rows
        let w7 = rows.filter { $0["layer"] == "fc1" && $0["index"] == "7" }
        #expect(w7.map { $0["step"] ?? "" } == ["0", "5", "10", "15", "20"])
        #expect(w7.map { $0["masked"] ?? "" } == ["0", "0", "0", "1", "1"])
        #expect(w7.suffix(2).allSatisfy { $0["value"].flatMap { Float($0) } == 0 })
        let w2 = rows.filter { $0["layer"] == "fc1" && $0["index"] == "2" }
        #expect(w2.allSatisfy { $0["masked"] == "0" })

        let layers = try Self.table(folder.file("layer-trajectories.csv")).rows.filter { $0["layer"] == "fc1" }
        #expect(layers.map { $0["mask_churn"] ?? "" } == ["0", "0", "0", "3", "0"])
        #expect(layers.suffix(2).allSatisfy { $0["sparsity"].flatMap { Double($0) } == 3.0 / 24.0 })
        let fc2 = try Self.table(folder.file("layer-trajectories.csv")).rows.filter { $0["layer"] == "fc2" }
        #expect(fc2.allSatisfy { $0["mask_churn"] == "0" })
    }

    /// Weights set by hand on exact lines: R^2 = 1 for every moving unmasked weight, 0 for
    /// constant ones; mean |update| is the mean step.
    @Test func layerSummariesOnHandMadeTrajectories() throws {
        let model = Self.model()
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let rec = try TrajectoryRecorder(
            config: try Self.config(#"{"every": "2it", "samples_per_layer": 0}"#),
            model: model, folder: folder, rng: RandomSource(seed: 1))
        let fc1 = try #require(model.parameter(named: "fc1.weight"))
        let fc2 = try #require(model.parameter(named: "fc2.weight"))
        var mask = Tensor(shape: fc1.value.shape, repeating: 1)
        for i in 0..<6 { mask.scalars[i] = 0 }
        fc1.setMask(mask)
        let start = fc1.value.scalars
        rec.start(batchesPerEpoch: 10)
        #expect(rec.everySteps == 2)
        for k in 0..<5 {
            let step = 2 * k
            fc1.value.scalars = start.enumerated().map { i, w in i < 6 ? 0 : w + Float(step) * 0.25 }
            rec.record(step: step)
            rec.record(step: step)  // a repeated step is skipped
        }
        try rec.finish()
        let (_, rows) = try Self.table(folder.file("layer-trajectories.csv"))
        #expect(rows.count == 10)
        #expect(try Self.table(folder.file("trajectories.csv")).rows.isEmpty)
        let l1 = rows.filter { $0["layer"] == "fc1" }, l2 = rows.filter { $0["layer"] == "fc2" }
        #expect(l1.map { $0["fraction_near_linear"] ?? "" } == ["0.0", "0.0", "1.0", "1.0", "1.0"])
        #expect(l2.allSatisfy { $0["fraction_near_linear"] == "0.0" && $0["mean_abs_update"] == "0.0" })
        for r in l1.dropFirst() {
            let u = try #require(r["mean_abs_update"].flatMap { Double($0) })
            #expect(abs(u - 0.5 * 18 / 24) < 1e-6)
            #expect(r["sparsity"].flatMap { Double($0) } == 0.25)
        }
        #expect(fc2.value.count == 12)
    }

    /// The SIMD layer pass and near-linear count against plain loops, over sizes with and
    /// without a tail, with and without a mask, with zeros and exact repeats.
    @Test func layerPassMatchesAScalarReference() {
        var rng = RandomSource(seed: 21)
        for n in [0, 1, 7, 8, 9, 1023, 1024, 1031, 3000] {
            let v: [Float] = (0..<n).map { _ in rng.nextInt(below: 5) == 0 ? 0 : Float(rng.nextNormal()) }
            var prev: [Float] = (0..<n).map { i in rng.nextInt(below: 3) == 0 ? v[i] : Float(rng.nextNormal()) }
            let mask: [Float] = (0..<n).map { _ in rng.nextInt(below: 4) == 0 ? 0 : 1 }
            let r2: [Float] = (0..<n).map { _ in Float(rng.nextUniform()) }
            for useMask in [false, true] {
                var p = prev
                var pm: [Float] = (0..<n).map { _ in rng.nextInt(below: 2) == 0 ? 0 : 1 }
                let pmBefore = pm
                let m: [Float]? = useMask ? mask : nil
                let pass = v.withUnsafeBufferPointer { vb in
                    p.withUnsafeMutableBufferPointer { pb in
                        pm.withUnsafeMutableBufferPointer { pmb in
                            m.map { mm in mm.withUnsafeBufferPointer { LayerPass(values: vb, previous: pb, mask: $0, previousMask: pmb) } }
                                ?? LayerPass(values: vb, previous: pb, mask: nil, previousMask: pmb)
                        }
                    }
                }
                let cur = m ?? [Float](repeating: 1, count: n)
                #expect(pass.zeros == v.filter { $0 == 0 }.count)
                #expect(abs(pass.sumAbs - v.reduce(0.0) { $0 + Double(abs($1)) }) <= 1e-4 * max(1, pass.sumAbs))
                let du = zip(v, prev).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) }
                #expect(abs(pass.sumAbsUpdate - du) <= 1e-4 * max(1, du))
                #expect(pass.churn == zip(cur, pmBefore).filter { $0.0 != $0.1 }.count)
                #expect(p == v && pm == cur)
                let counts = r2.withUnsafeBufferPointer { rb in
                    m.map { mm in mm.withUnsafeBufferPointer { LayerPass.countNearLinear(rb, mask: $0, threshold: 0.9) } }
                        ?? LayerPass.countNearLinear(rb, mask: nil, threshold: 0.9)
                }
                #expect(counts.unmasked == cur.filter { $0 != 0 }.count)
                #expect(counts.near == (0..<n).filter { cur[$0] != 0 && r2[$0] >= 0.9 }.count)
            }
            prev = v
        }
    }

    @Test func exportSubsetFiltersByLayerAndStep() throws {
        let header = ["step", "layer", "index", "row", "col", "value", "grad", "update", "masked"]
        var rows = [header]
        for step in stride(from: 0, through: 15, by: 5) {
            for layer in ["fc1", "fc2"] { rows.append([String(step), layer, "1", "0", "1", "0.5", "0.0", "0.0", "0"]) }
        }
        let fc2 = try TrajectoryExport.subset(rows, layer: "fc2")
        #expect(fc2.first == header && fc2.count == 5 && fc2.dropFirst().allSatisfy { $0[1] == "fc2" })
        let every10 = try TrajectoryExport.subset(rows, every: 10)
        #expect(every10.dropFirst().map { $0[0] } == ["0", "0", "10", "10"])
        let both = try TrajectoryExport.subset(rows, layer: "fc1", every: 10)
        #expect(both.dropFirst().map { "\($0[0]) \($0[1])" } == ["0 fc1", "10 fc1"])
        #expect(try TrajectoryExport.subset(rows) == rows)
        do {
            _ = try TrajectoryExport.subset(rows, layer: "fc7")
            Issue.record("an unknown layer must throw")
        } catch let e as RunError {
            #expect(e.description.contains("fc7") && e.description.contains("fc1, fc2"))
        }
        #expect(throws: RunError.self) { _ = try TrajectoryExport.subset([["a", "b"]], layer: "fc1") }
        #expect(throws: RunError.self) { _ = try TrajectoryExport.subset(rows, every: 0) }
    }

    @Test func exportFromARunFolder() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        do {
            _ = try TrajectoryExport.subset(runDir: folder.url.path, layer: "fc1")
            Issue.record("a missing file must throw")
        } catch let e as RunError {
            #expect(e.description.contains("trajectories.csv") && !e.description.contains("\n"))
        }
        let model = Self.model()
        let (trainer, _) = Self.trainer(model)
        let rec = try TrajectoryRecorder(
            config: try Self.config(#"{"every": "5it", "samples_per_layer": 3}"#),
            model: model, folder: folder, rng: RandomSource(seed: 1))
        trainer.observers.append(rec)
        try trainer.train(steps: 20)
        try rec.finish()
        let text = try TrajectoryExport.subset(runDir: folder.url.path, layer: "fc2", every: 10)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "step,layer,index,row,col,value,grad,update,masked")
        #expect(lines.count == 1 + 3 * 3)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("0,fc2,") || $0.hasPrefix("10,fc2,") || $0.hasPrefix("20,fc2,") })
    }
}

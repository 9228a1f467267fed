import Testing
import Foundation
import TensorCore
import NN
import Pruning
import HDF5Support
import Schema

extension Double {
    fileprivate var float: Float { Float(self) }
}
@testable import Experiments

/// `method` `units`: whole neurons and filters leave the network on a schedule, which trains on
/// smaller.
@Suite struct UnitsMethodTests {
    static func run(_ json: String) throws -> (dir: URL, summary: [String: String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-units-\(UUID().uuidString)")
        _ = try Runner.run(try ConfigLoader.decode(Data(json.utf8)), options: RunOptions(outDir: dir.path, progress: false))
        let rows = try CSVReader.read(dir.appendingPathComponent("summary.csv"))
        return (dir, Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1])))
    }

    /// LeNet-300-100's hidden layers lose half their neurons on the cubic ramp (checks every 10
    /// steps from 10 to 60 of 80); the final network is 784-150-50-10, the compacted model
    /// matches it, and the run trained fewer FLOPs than the dense one.
    @Test(arguments: ["l1", "l2", "trajectory"])
    func lenet300HiddenLayersLoseHalfTheirNeurons(score: String) throws {
        let (dir, s) = try Self.run(
            EndToEndTests.mnistConfig(
                #"""
                , "pruning": {"method": "units", "units": {"score": "\#(score)", "ratio": 0.5, "window": 5, "horizon": 20,
                  "cubic": {"start": "10it", "end": "60it", "every": "10it", "max_per_check": 0.5}}}
                """#))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(s["units_kept"] == "fc1:150 fc2:50")
        let file = try HDF5File(path: dir.appendingPathComponent("model.h5").path)
        let specs = try JSONDecoder().decode([LayerSpec].self, from: Data(try file.attributeString("layers").utf8))
        #expect(specs.compactMap(\.units) == [150, 50, 10])
        let arrays = try HDF5Arrays.all(dir.appendingPathComponent("model.h5").path)
        let fc2: Int = 50 * 150, fc3: Int = 10 * 50
        #expect(arrays["fc2/weight"]?.count == fc2 && arrays["fc3/weight"]?.count == fc3)
        let weights: Int = 784 * 150 + 150 * 50 + 50 * 10
        #expect(s["compact_weights"] == String(weights))
        let flops = try #require(Int(s["train_flops"] ?? "")), dense = try #require(Int(s["dense_train_flops"] ?? ""))
        #expect(flops < dense)
        #expect(try #require(Double(s["test_accuracy"] ?? "")) > 0.8)
        let events = try CSVReader.read(dir.appendingPathComponent("events.csv"))
        let removed = events.dropFirst().filter { $0[1] == "fc1" }.compactMap { Int($0[3]) }.reduce(0, +)
        #expect(removed == 150)
    }

    /// The `init` schedule removes the units before the first step, so every step trains
    /// 784-150-50-10: train_flops is that network's count, by hand as in
    /// `EndToEndTests.denseRunWritesTheRunFolderAndLearns` (forward 2·W + biases + ReLUs + the
    /// loss's 6 per class; backward 2·W + biases + 2·W for the input gradient of every layer
    /// but the first + ReLUs), times 2 epochs of 2000 samples.
    @Test func initScheduleTrainsTheSmallNetworkFromTheStart() throws {
        let (dir, s) = try Self.run(
            EndToEndTests.mnistConfig(#", "pruning": {"method": "units", "units": {"score": "l2", "schedule": "init"}}"#))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(s["units_kept"] == "fc1:150 fc2:50")
        let w = [784 * 150, 150 * 50, 50 * 10], b = [150, 50, 10]
        let forward = 2 * w.reduce(0, +) + b.reduce(0, +) + 200 + 6 * 10
        let backward = 2 * w.reduce(0, +) + b.reduce(0, +) + 2 * (w[1] + w[2]) + 200
        #expect(s["train_flops"] == String((forward + backward) * 4000))
        let full = [235_200, 30_000, 1_000], fb = [300, 100, 10]
        let dense =
            2 * full.reduce(0, +) + fb.reduce(0, +) + 400 + 60 + 2 * full.reduce(0, +) + fb.reduce(0, +) + 2 * (full[1] + full[2]) + 400
        #expect(s["dense_train_flops"] == String(dense * 4000))
    }

    /// Bad settings are one-line errors naming the key under `pruning.units`.
    @Test func badSettingsNameTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"schedule": "adaptive"}"#, "pruning.units.schedule"),
            (#"{"ratio": 1}"#, "pruning.units.ratio"),
            (#"{"window": 0}"#, "pruning.units.window"),
            (#"{"sparsity": 0.5}"#, "pruning.units.sparsity"),
        ]
        for (units, path) in cases {
            let json = EndToEndTests.mnistConfig(#", "pruning": {"method": "units", "units": \#(units)}"#)
            let error = #expect(throws: ConfigError.self) { try ConfigLoader.decode(Data(json.utf8)) }
            #expect(error?.path == path, "\(units): \(String(describing: error))")
        }
        for (units, path) in [
            (#"{"layers": ["fc3"]}"#, "pruning.units.layers[0]"),
            (#"{"cubic": {"start": "10it", "end": "900it"}}"#, "pruning.units.cubic.end"),
        ] {
            let json = EndToEndTests.mnistConfig(#", "pruning": {"method": "units", "units": \#(units)}"#)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prunelab-units-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let error = #expect(throws: ConfigError.self) {
                try Runner.run(try ConfigLoader.decode(Data(json.utf8)), options: RunOptions(outDir: dir.path, progress: false))
            }
            #expect(error?.path == path, "\(units): \(String(describing: error))")
        }
    }

    /// Conv filters go too (the next conv's input channels and the dense layer's columns with them).
    @Test func convFiltersLeaveTheNetwork() throws {
        let (dir, s) = try Self.run(
            ConvRunTests.config(
                #"""
                {"method": "units", "units": {"score": "trajectory", "layers": ["conv1", "conv2"], "ratio": 0.5, "window": 5,
                  "cubic": {"start": "5it", "end": "30it", "every": "5it", "max_per_check": 0.5}}}
                """#))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(s["units_kept"] == "conv1:3 conv2:4")
        let arrays = try HDF5Arrays.all(dir.appendingPathComponent("model.h5").path)
        let conv2: Int = 4 * 3 * 25, fc1: Int = 32 * 4 * 16
        #expect(arrays["conv2/weight"]?.count == conv2 && arrays["fc1/weight"]?.count == fc1)
        #expect(try #require(Double(s["compact_max_abs_diff"] ?? "")) == 0)
    }

    /// The scores by hand on a two-neuron layer: L2 norms of the rows, and norms of the rows
    /// extrapolated along their exact linear trajectories.
    @Test func trajectoryScoreSeesUnitsHeadingToZero() throws {
        let dense = Dense(name: "fc1", inputSize: 2, outputSize: 2)
        let stats = TrajectoryStatistics(count: 4, window: 10, horizon: 100)
        for t in 1...10 {
            // unit 0: large, shrinking by 0.05 per step; unit 1: 0.4, constant
            let a = Float(1.0 - 0.05 * Double(t))
            dense.weight.value = Tensor(shape: [2, 2], scalars: [a, a, 0.4, 0.4])
            stats.update(dense.weight.value, step: t)
        }
        let layer = UnitLayer(name: "fc1", weight: dense.weight, bias: dense.bias, followers: [])
        let l2 = UnitsMethod.scores(layer, score: .l2, statistics: stats)
        let trajectory = UnitsMethod.scores(layer, score: .trajectory, statistics: stats)
        // by hand: unit 0 is at 0.5 and falls 0.05 a step, so its line crosses zero 10 steps
        // ahead (within the horizon of 100): score 0; unit 1 holds still at 0.4: its L2 norm
        #expect(abs(l2[0] - 0.5 * 2.0.squareRoot().float) < 1e-6 && abs(l2[1] - 0.4 * 2.0.squareRoot().float) < 1e-6)
        #expect(l2[0] > l2[1])
        #expect(trajectory[0] == 0, "\(trajectory)")
        #expect(abs(trajectory[1] - l2[1]) < 1e-6)
        // with a horizon of 5 steps unit 0's line is still positive there, at 0.25 each
        let near = TrajectoryStatistics(count: 4, window: 10, horizon: 5)
        for t in 1...10 {
            let a = Float(1.0 - 0.05 * Double(t))
            near.update(Tensor(shape: [2, 2], scalars: [a, a, 0.4, 0.4]), step: t)
        }
        #expect(abs(UnitsMethod.scores(layer, score: .trajectory, statistics: near)[0] - 0.25 * 2.0.squareRoot().float) < 1e-4)
        // gathered statistics are those of the kept weights
        #expect(stats.gathered([2, 3]).extrapolated() == Array(stats.extrapolated()[2...3]))
    }
}

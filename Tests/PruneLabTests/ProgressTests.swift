import Testing
import Foundation
@testable import Experiments
@testable import Sweeps

/// The progress display: lines that fit the terminal, and one line per epoch, Han round and
/// analysis series in a pipe.
@Suite struct ProgressTests {
    /// Field values from short to extreme: long labels, millions of steps, hour-long ETAs.
    static func samples() -> [ProgressLine.Fields] {
        var out: [ProgressLine.Fields] = []
        let labels = ["e2e", "mnist-lenet300-compare-linear/adaptive", String(repeating: "x", count: 120)]
        let phases = ["training", "Han round 12/30", "analysis only conv2"]
        for (label, phase) in zip(labels, phases) + [(labels[0], phases[2]), (labels[2], phases[1])] {
            for (step, total) in [(1, 80), (46_900, 93_800), (9_999_999, 10_000_000)] {
                var f = ProgressLine.Fields(label: label, phase: phase, step: step, total: total)
                f.epoch = step / 469 + 1
                (f.loss, f.accuracy) = (2.302585, 0.0987)
                (f.sparsity, f.testAccuracy) = (0.918, 0.9846)
                (f.eta, f.elapsed) = (Double(step % 7) * 3600 + 59.6, 12_345)
                out.append(f)
            }
        }
        return out
    }

    @Test(arguments: [80, 60, 40, 100, 200])
    func linesFitTheWidthWithoutWrapping(width: Int) {
        for f in Self.samples() {
            let line = ProgressLine.format(f, width: width)
            #expect(line.count <= width - 1, "\(line.count) columns at width \(width): \(line)")
            #expect(!line.contains("\n"))
        }
    }

    /// At 80 columns a typical run keeps what matters: phase, step, sparsity, test accuracy, ETA.
    @Test func eightyColumnsKeepTheHeadlineFields() {
        var f = ProgressLine.Fields(label: "mnist-lenet300-han", phase: "Han round 2/3", step: 12_345, total: 28_140)
        f.epoch = 27
        (f.loss, f.accuracy, f.sparsity, f.testAccuracy, f.eta) = (0.0123, 0.9971, 0.8512, 0.9843, 95)
        let line = ProgressLine.format(f, width: 80)
        for part in ["Han round 2/3", "12345/28140", "sp 0.851", "test 0.9843", "ETA 1:35"] {
            #expect(line.contains(part), "\(part) missing from \(line)")
        }
    }

    /// `compare` counts its runs and reports each finished one's headline numbers.
    @Test func compareLinesCountRunsAndGiveHeadlineNumbers() {
        var counter = RunCounter(total: 3)
        #expect(counter.next() == "[1/3]")
        let line = counter.finished(
            "linear seed 2", ["test_accuracy": 0.98404, "sparsity": 0.91826, "train_flops": 318.64e9, "wall_seconds": 14.734])
        #expect(line.hasPrefix("[1/3] linear seed 2 done: test 0.9840  sparsity 0.9183  train 318.6 GFLOP  14.73 s  ETA "))
        #expect(counter.next() == "[2/3]")
        #expect(counter.finished("han seed 2", [:]).contains("test -  sparsity -  train - GFLOP  - s"))
        #expect(counter.next() == "[3/3]")
    }

    /// `run` ends with its headline rounded to what the numbers mean: accuracy and sparsity to 4
    /// decimals, seconds to 2 (not the shortest round-trip digits of each double).
    @Test func runHeadlineIsRounded() {
        var s = SummaryRow()
        s.testAccuracy = 0.98123456
        s.sparsity = 0.899999999
        s.wallSeconds = 0.6137001
        #expect(s.consoleLine == "test_accuracy 0.9812  sparsity 0.9000  wall_seconds 0.61")
    }

    /// Through a pipe (as under nohup or SLURM) the binary prints one flushed line per epoch
    /// (training and retraining), per Han round and per analysis series, each with the phase,
    /// sparsity and test accuracy.
    @Test func pipeModePrintsOneLinePerEpochRoundAndAnalysisSeries() throws {
        let exe = try #require(CLITests.binary, "the prunelab executable was not built next to the tests")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let config = root.appendingPathComponent("c.json")
        let text = EndToEndTests.mnistConfig(
            #"""
            , "pruning": {"method": "han", "target_sparsity": 0.8,
              "han": {"rule": "sparsity", "rounds": 2, "retrain": "1ep", "curve": {"enabled": true, "from": 0.5, "to": 0.9, "step": 0.2}}},
              "tensorboard": {"enabled": false}
            """#
        ).replacingOccurrences(of: "\"train_limit\": 2000", with: "\"train_limit\": 1000")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(
            exe.path, ["run", config.path, "--out", root.appendingPathComponent("run").path, "--set", "training.threads=1"])
        #expect(r.status == 0)
        let lines = r.errors.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.contains("\r") || $0.contains("\u{1B}") }, "no redraws in a pipe")
        let epochs = lines.filter { $0.contains(" ep ") }
        #expect(epochs.filter { $0.contains(" training ") }.count == 2)
        #expect(epochs.filter { $0.contains("Han round 1/2 ") }.count == 1)
        #expect(epochs.filter { $0.contains("Han round 2/2 ") }.count == 1)
        #expect(epochs.allSatisfy { $0.contains(" sp ") && $0.contains(" test ") && $0.contains("ETA") })
        #expect(lines.filter { $0.contains("Han round") && $0.contains(" done ") }.count == 2)
        let series = lines.filter { $0.contains(" analysis ") }
        #expect(series.count == 5, "layer-wise, global and each of 3 layers alone")
        #expect(series.last?.contains("15/15") == true)
    }
}

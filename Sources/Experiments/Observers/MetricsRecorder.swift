import Foundation
import TensorCore
import NN
import Training

/// Records training metrics into `metrics.csv`, long format
/// `step,epoch,split,metric,value,wall_seconds,train_flops`.
///
/// Every `logEvery` steps it logs the mean training loss and accuracy over the steps since the
/// last log and the learning rate; every `evalEvery` steps (and at the end) it evaluates the
/// test set. Each row carries the run's wall seconds so far (`RunClock.wall`, over every
/// process of a resumed run) and the cumulative training FLOPs at that step. The file is
/// rewritten atomically at each evaluation, so a run that dies keeps every metric written up
/// to then.
public final class MetricsRecorder: TrainingObserver {
    /// The columns of `metrics.csv`.
    public static let columns = ["step", "epoch", "split", "metric", "value", "wall_seconds", "train_flops"]
    /// Columns that measure time on this machine; every other column of a resumed run equals
    /// an uninterrupted run's.
    public static let timingColumns: Set<String> = ["wall_seconds"]
    public private(set) var table = CSVTable(columns: MetricsRecorder.columns)
    let url: URL
    let clock: RunClock
    let logSteps: Int
    let evalSteps: Int
    let testImages: Tensor
    let testLabels: [Int]
    /// Added to the step numbers written (for pipelines of several loops).
    public var stepOffset = 0
    var loss = 0.0, correct = 0, seen = 0
    /// Cumulative training FLOPs written on the next rows (the trainer's count at the last event).
    var flops = 0
    public private(set) var lastTest: Evaluation?
    /// Called with every row recorded (the TensorBoard writer mirrors them).
    public var onRecord: ((_ step: Int, _ tag: String, _ value: Double, _ wall: Double, _ flops: Int) -> Void)?

    let workers: Int

    public init(
        url: URL, clock: RunClock, logSteps: Int, evalSteps: Int, testImages: Tensor, testLabels: [Int],
        workers: Int = 1
    ) {
        self.workers = workers
        self.url = url
        self.clock = clock
        self.logSteps = max(1, logSteps)
        self.evalSteps = max(1, evalSteps)
        self.testImages = testImages
        self.testLabels = testLabels
    }

    public func record(step: Int, epoch: Int, split: String, metric: String, value: Double) {
        let wall = clock.wall
        table.append([.int(step), .int(epoch), .string(split), .string(metric), .double(value), .double(wall), .int(flops)])
        onRecord?(step, "\(split)/\(metric)", value, wall, flops)
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        loss += info.loss * Double(info.batchSize)
        correct += info.correct
        seen += info.batchSize
        let step = info.step + stepOffset
        flops = trainer.flops
        if info.step % logSteps == 0 { flushTrain(step: step, epoch: info.epoch, lr: info.learningRate) }
        if info.step % evalSteps == 0 { evaluate(trainer.model, step: step, epoch: info.epoch) }
        return .continue
    }

    func flushTrain(step: Int, epoch: Int, lr: Double) {
        guard seen > 0 else { return }
        record(step: step, epoch: epoch, split: "train", metric: "loss", value: loss / Double(seen))
        record(step: step, epoch: epoch, split: "train", metric: "accuracy", value: Double(correct) / Double(seen))
        record(step: step, epoch: epoch, split: "train", metric: "learning_rate", value: lr)
        loss = 0; correct = 0; seen = 0
    }

    /// Evaluates the test set now, records it and rewrites the file.
    public func evaluate(_ model: Sequential, step: Int, epoch: Int, flops: Int? = nil) {
        if let flops { self.flops = flops }
        let e = clock.evaluation { Evaluation.run(model, images: testImages, labels: testLabels, workers: workers) }
        lastTest = e
        record(step: step, epoch: epoch, split: "test", metric: "loss", value: e.loss)
        record(step: step, epoch: epoch, split: "test", metric: "accuracy", value: e.accuracy)
        try? save()
    }

    public func save() throws { try table.write(to: url) }
}

extension MetricsRecorder: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/table", text: table.text)
        archive.set("\(prefix)/sums", [Int64(correct), Int64(seen), Int64(flops)])
        archive.set("\(prefix)/loss", loss)
        if let t = lastTest { archive.set("\(prefix)/last_test", [t.loss, t.accuracy, Double(t.count)]) }
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        table = try CSVTable(columns: table.columns, text: try archive.text("\(prefix)/table"))
        let sums = try archive.ints("\(prefix)/sums")
        (correct, seen, flops) = (Int(sums[0]), Int(sums[1]), Int(sums[2]))
        loss = try archive.double("\(prefix)/loss")
        if archive.has("\(prefix)/last_test") {
            let t = try archive.doubles("\(prefix)/last_test")
            lastTest = Evaluation(loss: t[0], accuracy: t[1], count: Int(t[2]))
        }
    }
}

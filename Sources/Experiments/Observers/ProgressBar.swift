import Foundation
import Training

#if canImport(Glibc)
    import Glibc
#endif

/// A one-line progress display on stderr: epoch, step, loss, accuracy and ETA.
///
/// Silent when stderr is not a terminal (CI logs, pipes), and redrawn at most ten times a
/// second so it costs nothing measurable.
public final class ProgressBar: TrainingObserver {
    let totalSteps: Int
    let label: String
    let enabled: Bool
    var start = Date()
    var lastDraw = Date.distantPast
    var runningLoss = 0.0, runningCorrect = 0, runningSeen = 0

    public init(totalSteps: Int, label: String, enabled: Bool = isatty(2) == 1) {
        self.totalSteps = totalSteps
        self.label = label
        self.enabled = enabled
    }

    public func trainingWillStart(_ trainer: Trainer) { start = Date() }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        guard enabled else { return .continue }
        runningLoss += info.loss * Double(info.batchSize)
        runningCorrect += info.correct
        runningSeen += info.batchSize
        let now = Date()
        if now.timeIntervalSince(lastDraw) >= 0.1 || info.step == totalSteps {
            lastDraw = now
            let frac = Double(info.step) / Double(max(totalSteps, 1))
            let elapsed = now.timeIntervalSince(start)
            let eta = frac > 0 ? elapsed * (1 - frac) / frac : 0
            let width = 24
            let filled = Int(frac * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = String(
                format: "\r%@ [%@] ep %d step %d/%d  loss %.4f  acc %.4f  ETA %@ ",
                label, bar, info.epoch, info.step, totalSteps,
                runningLoss / Double(max(runningSeen, 1)),
                Double(runningCorrect) / Double(max(runningSeen, 1)), ProgressBar.clock(eta))
            FileHandle.standardError.write(Data(line.utf8))
        }
        return .continue
    }

    public func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision {
        runningLoss = 0; runningCorrect = 0; runningSeen = 0
        return .continue
    }

    public func trainingDidEnd(_ trainer: Trainer) {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return String(format: "%d:%02d", t / 60, t % 60)
    }
}

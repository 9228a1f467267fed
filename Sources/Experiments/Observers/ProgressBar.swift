import Foundation
import Training

#if canImport(Glibc)
    import Glibc
#endif

/// What a run is doing, as the progress display names it.
public enum RunPhase: Equatable, Sendable {
    case training
    /// Han's round `round` of `rounds`: pruned, now retraining.
    case hanRound(Int, of: Int)
    /// Analysis outside the method's cost (Han's accuracy-vs-sparsity curve).
    case analysis

    var name: String {
        switch self {
        case .training: return "training"
        case .hanRound(let k, let n): return "Han round \(k)/\(n)"
        case .analysis: return "analysis"
        }
    }
}

/// Progress on stderr: the phase, the step (or analysis point), loss and accuracy of the
/// steps since the last epoch end, current sparsity, last test accuracy and the ETA.
///
/// On a terminal it redraws one line at most ten times a second, fitted to the terminal's
/// width (`TIOCGWINSZ` on stderr, else `COLUMNS`, else 80) so it never wraps. Anywhere else
/// (a pipe, `nohup`, a SLURM log) it prints one flushed line per epoch, per Han round and per
/// analysis series, with the same numbers. Plain writes rather than apple/swift-log: these are
/// progress records of one writer, not leveled log events, and swift-log's stream handler
/// prefixes every line with a timestamp, level and label that would not fit 80 columns.
public final class ProgressBar: TrainingObserver {
    /// Where the display goes and how it draws.
    public enum Mode: Sendable {
        /// Redraw one line in place (stderr is a terminal).
        case terminal
        /// One line per epoch, Han round and analysis series.
        case lines
    }

    let totalSteps: Int
    let label: String
    let mode: Mode
    let write: (String) -> Void
    /// Current sparsity of the prunable weights and the last test accuracy (nil before one).
    let status: () -> (sparsity: Double, testAccuracy: Double?)
    /// The phase shown (methods set it through `RunContext.progress`).
    public var phase = RunPhase.training
    var start: Date?
    var firstStep = 0
    var lastDraw = Date.distantPast
    var step = 0, epoch = 0
    var runningLoss = 0.0, runningCorrect = 0, runningSeen = 0
    var analysisStart = Date()
    /// Also receives, whatever the mode, the lines a log gets (one per epoch, Han round and
    /// finished analysis series): a sweep point's `logs/<point>.log`.
    public var logLine: ((String) -> Void)?

    public init(
        totalSteps: Int, label: String, mode: Mode = isatty(2) == 1 ? .terminal : .lines,
        status: @escaping () -> (sparsity: Double, testAccuracy: Double?),
        write: @escaping (String) -> Void = ProgressBar.standardError
    ) {
        self.totalSteps = totalSteps
        self.label = label
        self.mode = mode
        self.status = status
        self.write = write
    }

    /// Writes `text` to stderr at once (FileHandle writes are unbuffered).
    public static func standardError(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    public func trainingWillStart(_ trainer: Trainer) {
        if start == nil {
            start = Date()
            firstStep = trainer.step
        }
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        runningLoss += info.loss * Double(info.batchSize)
        runningCorrect += info.correct
        runningSeen += info.batchSize
        (step, epoch) = (info.step, info.epoch)
        let now = Date()
        if mode == .terminal && (now.timeIntervalSince(lastDraw) >= 0.1 || info.step == totalSteps) {
            lastDraw = now
            write("\r" + ProgressLine.format(fields(), width: ProgressLine.terminalWidth()) + "\u{1B}[K")
        }
        return .continue
    }

    public func epochDidEnd(_ info: EpochInfo, trainer: Trainer) -> TrainingDecision {
        logged(ProgressLine.format(fields(epochEnd: true), width: ProgressLine.logWidth) + "\n")
        runningLoss = 0; runningCorrect = 0; runningSeen = 0
        return .continue
    }

    public func trainingDidEnd(_ trainer: Trainer) {
        if mode == .terminal { write("\n") }
    }

    /// A Han round is over: one line with its sparsity and test accuracy after retraining.
    public func roundDidEnd(_ round: Int, of rounds: Int, sparsity: Double, testAccuracy: Double) {
        let text = String(format: "%@ Han round %d/%d done  sparsity %.4f  test %.4f", label, round, rounds, sparsity, testAccuracy)
        if mode == .terminal { write("\r" + ProgressLine.fit(text, width: ProgressLine.terminalWidth()) + "\u{1B}[K\n") }
        logged(ProgressLine.fit(text, width: ProgressLine.logWidth) + "\n")
    }

    /// A line for a log: written in `lines` mode, and given to `logLine` in either mode.
    func logged(_ line: String) {
        if mode == .lines { write(line) }
        logLine?(line)
    }

    /// Analysis progress: `done` of `total` points, `series` the one in progress (drawn in
    /// place on a terminal; in a log, one line when a series is finished).
    public func analysis(done: Int, total: Int, series: String, seriesFinished: Bool) {
        if done <= 1 { analysisStart = Date() }
        let elapsed = Date().timeIntervalSince(analysisStart)
        var f = fields()
        f.phase = "analysis \(series)"
        (f.step, f.total, f.epoch) = (done, total, nil)
        f.eta = done > 0 ? elapsed * Double(total - done) / Double(done) : nil
        (f.loss, f.accuracy) = (nil, nil)
        if mode == .terminal {
            write("\r" + ProgressLine.format(f, width: ProgressLine.terminalWidth()) + "\u{1B}[K" + (done == total ? "\n" : ""))
        }
        if seriesFinished { logged(ProgressLine.format(f, width: ProgressLine.logWidth) + "\n") }
    }

    func fields(epochEnd: Bool = false) -> ProgressLine.Fields {
        let s = status()
        var f = ProgressLine.Fields(label: label, phase: phase.name, step: step, total: totalSteps)
        f.epoch = epoch
        if runningSeen > 0 {
            f.loss = runningLoss / Double(runningSeen)
            f.accuracy = Double(runningCorrect) / Double(runningSeen)
        }
        (f.sparsity, f.testAccuracy) = (s.sparsity, s.testAccuracy)
        let done = step - firstStep
        let elapsed = start.map { Date().timeIntervalSince($0) } ?? 0
        f.eta = done > 0 ? elapsed * Double(max(totalSteps - step, 0)) / Double(done) : nil
        f.elapsed = epochEnd ? elapsed : nil
        return f
    }
}

/// The text of one progress line, fitted to a width.
public enum ProgressLine {
    /// Lines in a log are not redrawn; they keep every field (still one line).
    static let logWidth = 160

    /// What a line can show; nil fields are left out.
    public struct Fields: Sendable {
        public var label: String
        public var phase: String
        public var step: Int
        public var total: Int
        public var epoch: Int?
        public var loss: Double?, accuracy: Double?
        public var sparsity: Double?, testAccuracy: Double?
        public var eta: Double?, elapsed: Double?

        public init(label: String, phase: String, step: Int, total: Int) {
            self.label = label
            self.phase = phase
            self.step = step
            self.total = total
        }
    }

    /// The line for `f` in at most `width - 1` columns (the last column is left free, so a
    /// terminal never wraps): fields are dropped from the least important (the bar, the label,
    /// loss and accuracy, the epoch) until the rest fits, and the bar takes the room left.
    public static func format(_ f: Fields, width: Int) -> String {
        let room = max(width - 1, 1)
        var parts: [(priority: Int, text: String)] = [(4, f.label), (10, f.phase)]
        if let e = f.epoch { parts.append((6, "ep \(e)")) }
        parts.append((9, "\(f.step)/\(f.total)"))
        if let l = f.loss { parts.append((5, String(format: "loss %.4f", l))) }
        if let a = f.accuracy { parts.append((5, String(format: "acc %.4f", a))) }
        if let s = f.sparsity { parts.append((8, String(format: "sp %.3f", s))) }
        if let t = f.testAccuracy { parts.append((8, String(format: "test %.4f", t))) }
        if let e = f.elapsed { parts.append((7, "elapsed \(clock(e))")) }
        parts.append((9, "ETA \(f.eta.map(clock) ?? "--:--")"))
        var kept = parts
        while kept.count > 1 && kept.map(\.text.count).reduce(0, +) + kept.count - 1 > room {
            kept.remove(at: kept.indices.min { kept[$0].priority < kept[$1].priority }!)
        }
        var line = kept.map(\.text).joined(separator: " ")
        let spare = room - line.count - 1
        if spare >= 12 && f.total > 0 {
            let width = min(spare - 2, 30)
            let filled = Int(Double(width) * min(1, Double(f.step) / Double(f.total)))
            let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
            let at = kept.firstIndex { $0.priority == 10 }.map { $0 + 1 } ?? 0
            var texts = kept.map(\.text)
            texts.insert(bar, at: at)
            line = texts.joined(separator: " ")
        }
        return fit(line, width: width)
    }

    /// `text` cut to `width - 1` columns.
    public static func fit(_ text: String, width: Int) -> String {
        text.count < width ? text : String(text.prefix(max(width - 1, 1)))
    }

    /// The terminal's width: `TIOCGWINSZ` on stderr, else `COLUMNS`, else 80.
    public static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        return 80
    }

    package static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

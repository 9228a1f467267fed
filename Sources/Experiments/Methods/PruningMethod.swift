import Foundation
import Schema
import NN
import Training
import Datasets
import TensorCore

/// A pruning method: one type (in its own folder under `Methods/`), listed once in
/// `MethodRegistry.all`.
///
/// A method owns its config section (`pruning.<name>`), the observers it installs in the
/// training loop, any steps it adds after training, its after-training phase, the artifacts
/// it writes and the summary columns it adds, and its name, which is the one vocabulary of
/// configs, summaries, compare arms, events and docs. The runner names no method.
public protocol PruningMethod: AnyObject {
    associatedtype Settings: ConfigSection
    static var name: String { get }
    static var summary: String { get }
    /// The arms `prunelab compare` offers for this method, by name.
    static func arms(for base: ExperimentConfig) throws -> [MethodArm]
    init(settings: Settings, run: RunContext) throws
    /// What ran: method, criterion and schedule names.
    var label: RunLabel { get }
    /// Observers to run before the loop's own (metrics, recording, progress).
    var observers: [TrainingObserver] { get }
    /// Optimizer steps the method adds after training (for the progress bar).
    var extraSteps: Int { get }
    /// The weights the method prunes (for `pruned_sparsity`).
    var pruned: [Parameter] { get }
    /// Whether the method removes weights at all (`pruning.target_sparsity` means something to it).
    static var removesWeights: Bool { get }
    /// Runs after the configured training (retraining rounds, fine-tuning, ...).
    func afterTraining(_ run: RunContext) throws
    /// Writes the method's artifacts and adds its columns to the summary, once the model is final.
    func finish(_ run: RunContext, summary: inout SummaryRow) throws
    /// Saves and restores the method's own progress (checkpoints): criterion state, events so
    /// far, the Han round, ... so that a resumed run continues exactly.
    func save(into archive: StateArchive, prefix: String)
    func restore(from archive: StateArchive, prefix: String) throws
    /// Runs before the weights are restored: a method that changed the network's shape during
    /// training (units removed) rebuilds that shape from the archive.
    func restoreArchitecture(from archive: StateArchive, prefix: String) throws
    /// Histograms of the method's state at a record (a criterion's statistics over the live
    /// weights, in TensorBoard).
    func histograms(step: Int, into sink: HistogramSink)
    /// A sink for histograms of the method's own events (what each check pruned).
    func attach(_ sink: HistogramSink)
}

extension PruningMethod {
    public var observers: [TrainingObserver] { [] }
    public var extraSteps: Int { 0 }
    public static var removesWeights: Bool { true }
    public func afterTraining(_ run: RunContext) throws {}
    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {}
    public func save(into archive: StateArchive, prefix: String) {}
    public func restore(from archive: StateArchive, prefix: String) throws {}
    public func restoreArchitecture(from archive: StateArchive, prefix: String) throws {}
    public func histograms(step: Int, into sink: HistogramSink) {}
    public func attach(_ sink: HistogramSink) {}
}

/// Method, criterion and schedule of a run; `name` is its compare arm (`linear`,
/// `linear/adaptive`, `fpgm`, `han`).
public struct RunLabel: Equatable, Sendable {
    public var method: String
    public var criterion: String
    public var schedule: String

    public init(method: String, criterion: String = "", schedule: String = "") {
        self.method = method
        self.criterion = criterion
        self.schedule = schedule
    }

    public var name: String {
        if criterion.isEmpty { return method }
        return schedule.isEmpty || schedule == DynamicMethod.defaultSchedule ? criterion : "\(criterion)/\(schedule)"
    }
}

/// One arm of a comparison: a name and the overrides that turn the base config into it.
public struct MethodArm: Sendable, Equatable {
    public var name: String
    /// `--set`-style overrides, applied in order to the base config.
    public var overrides: [String]
    /// Whether `prunelab compare` runs it when no `--methods` are given.
    public var isDefault: Bool

    public init(name: String, overrides: [String], isDefault: Bool) {
        self.name = name
        self.overrides = overrides
        self.isDefault = isDefault
    }
}

/// Everything a method and the pipeline share while one run is on.
public final class RunContext {
    public let config: ExperimentConfig
    public let data: DataSplit
    public let session: TrainingSession
    public let folder: RunFolder
    /// Seconds spent in analysis that is not part of the method's cost (the prune curve).
    public var analysisSeconds: Double { session.clock.analysisSeconds }
    /// Writes a checkpoint now (methods call it at their own boundaries, e.g. Han's rounds);
    /// a no-op when checkpoints are off.
    var checkpointHandler: () throws -> Void = {}

    public func checkpoint() throws { try checkpointHandler() }

    /// Checkpoints written by this process and the seconds they took (reported in summary.csv).
    /// Which product each layer ran (`kernels.csv`), once the runner installed it.
    var kernels: KernelRecorder?

    public private(set) var checkpoints = 0
    public private(set) var checkpointSeconds = 0.0

    func recordCheckpoint(seconds: Double) {
        checkpoints += 1
        checkpointSeconds += seconds
    }

    /// The progress display, when the run draws one (methods report their phases to it).
    public internal(set) var progress: ProgressBar?

    /// Things the user should hear about that do not stop the run (printed by the CLI).
    public private(set) var warnings: [String] = []

    public func warn(_ message: String) { warnings.append(message) }

    init(config: ExperimentConfig, data: DataSplit, session: TrainingSession, folder: RunFolder) {
        self.config = config
        self.data = data
        self.session = session
        self.folder = folder
    }

    public var pruning: PruningConfig { config.pruning }

    /// Runs `body` and counts its time as analysis.
    public func analysis<T>(_ body: () throws -> T) rethrows -> T { try session.clock.analysis(body) }
}

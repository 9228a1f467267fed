import Foundation
import TensorCore
import NN
import Training

/// Applies `training.kernel` to a session's model and records which product each dense or conv layer
/// ran from which step: `kernels.csv` (one row per layer at the first step and whenever its
/// kernel changes) and `kernel-timings.csv` (the crossover measurements `auto` took in this
/// process so far, in order: measurements are cached per process, so in a `compare` a later run
/// reuses the earlier runs' measurements and its file also lists theirs).
public final class KernelRecorder: TrainingObserver {
    public private(set) var switches = CSVTable(columns: ["step", "layer", "kernel", "density", "policy"])
    var current: [String: KernelKind] = [:]
    private let model: Sequential
    /// The model's current layers (units may be removed during training).
    private var layers: [SparseCapableLayer] { model.leafLayers.compactMap { $0 as? SparseCapableLayer } }
    private let policy: KernelPolicy

    /// The model's own cache of measured choices.
    private let choices: KernelChoices?

    public init(session: TrainingSession) {
        policy = KernelPolicy(rawValue: session.config.training.kernel.rawValue) ?? .auto
        session.model.kernelPolicy = policy
        model = session.model
        choices = session.model.kernelChoices
    }

    public func stepDidEnd(_ info: StepInfo, trainer: Trainer) -> TrainingDecision {
        for d in layers where current[d.name] != d.lastKernel {
            current[d.name] = d.lastKernel
            let density = d.weight.sparsityPattern?.density ?? 1
            switches.append([
                .int(info.step), .string(d.name), .string(d.lastKernel.rawValue), .double(density),
                .string(policy.rawValue),
            ])
        }
        return .continue
    }

    /// The crossover measurements this run took (each model has its own cache).
    public func timings() -> CSVTable {
        var t = CSVTable(columns: [
            "rows", "cols", "batch", "input_gradient", "density_band", "density",
            "dense_seconds", "sparse_seconds", "choice",
        ])
        for m in choices?.measurements ?? [] {
            t.append([
                .int(m.rows), .int(m.cols), .int(m.batch), .int(m.inputGradient ? 1 : 0),
                .string(
                    String(
                        format: "%.2f-%.2f", Double(m.band) * KernelCrossover.bandWidth,
                        Double(m.band + 1) * KernelCrossover.bandWidth)),
                .double(m.density), .double(m.denseSeconds), .double(m.sparseSeconds), .string(m.choice.rawValue),
            ])
        }
        return t
    }

    public func write(to folder: RunFolder) throws {
        try switches.write(to: folder.file("kernels.csv"))
        try timings().write(to: folder.file("kernel-timings.csv"))
    }
}

extension KernelRecorder: Checkpointable {
    public func save(into archive: StateArchive, prefix: String) {
        archive.set("\(prefix)/switches", text: switches.text)
        archive.set(
            "\(prefix)/current", text: current.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: "\n"))
        archive.set("\(prefix)/choices", choices?.exportChoices() ?? [])
    }

    public func restore(from archive: StateArchive, prefix: String) throws {
        switches = try CSVTable(columns: switches.columns, text: try archive.text("\(prefix)/switches"))
        current = [:]
        for line in try archive.text("\(prefix)/current").split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2, let k = KernelKind(rawValue: kv[1]) { current[kv[0]] = k }
        }
        choices?.importChoices(try archive.ints("\(prefix)/choices"))
    }
}

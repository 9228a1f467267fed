import Foundation
import Schema
import NN
import Pruning
import TensorCore
import Training

/// Whole filters and neurons during training (L1, FPGM), then compaction into a physically
/// smaller network. Artifacts: `events.csv` (one row per selection and layer),
/// `model-compact.h5`, `layers-compact.csv`, and the `compact_*` summary columns.
public final class StructuredMethod: PruningMethod {
    public static let name = "structured"
    public static let summary = "whole filters / neurons ranked by a unit criterion, then compaction"
    let settings: StructuredSettings
    let pruner: StructuredPruner
    let session: TrainingSession

    /// One arm per unit criterion; run by default when the model has conv layers or the
    /// config lists layers to prune.
    public static func arms(for base: ExperimentConfig) throws -> [MethodArm] {
        let specs = try ModelRegistry.layerSpecs(base.model)
        let listed = base.pruning.method == name && base.pruning.settings.typed(StructuredSettings.self).layers != nil
        let applies = specs.contains { $0.kind == .conv } || listed
        return UnitCriterionRegistry.all.map { c in
            MethodArm(
                name: c.name, overrides: ["pruning.method=structured", "pruning.structured.criterion=\(c.name)"],
                isDefault: applies)
        }
    }

    public init(settings: StructuredSettings, run: RunContext) throws {
        self.settings = settings
        session = run.session
        pruner = try StructuredPruner(config: settings, session: run.session)
    }

    public var label: RunLabel { RunLabel(method: Self.name, criterion: settings.criterion) }
    public var observers: [TrainingObserver] { [pruner] }
    public var extraSteps: Int { settings.finetune.steps(perEpoch: session.stepsPerEpoch) }
    public var pruned: [Parameter] { pruner.pruned }

    public func afterTraining(_ run: RunContext) throws { try pruner.finish() }
    public func attach(_ sink: HistogramSink) { pruner.sink = sink }
    public func save(into archive: StateArchive, prefix: String) { pruner.save(into: archive, prefix: prefix) }
    public func restore(from archive: StateArchive, prefix: String) throws { try pruner.restore(from: archive, prefix: prefix) }
    public func restoreArchitecture(from archive: StateArchive, prefix: String) throws {
        try pruner.restoreArchitecture(from: archive, prefix: prefix)
    }

    public func finish(_ run: RunContext, summary: inout SummaryRow) throws {
        try pruner.events.write(to: run.folder.file("events.csv"))
        summary.extra += try CompactionReport.write(run)
    }
}

/// Compacts the structurally pruned model, checks it against the masked one on the test set,
/// writes `model-compact.h5` and `layers-compact.csv`, and reports its size, accuracy and
/// inference time as summary columns.
enum CompactionReport {
    static func write(_ run: RunContext) throws -> [SummaryColumn] {
        let model = run.session.model, data = run.data
        let result = try Compaction.compact(model)
        let compact = result.model
        let probe = min(data.test.count, 1000)
        let x = Tensor(
            shape: [probe] + data.test.sampleShape,
            scalars: Array(data.test.images.scalars[0..<(probe * data.test.sampleSize)]))
        let a = model.forward(x, training: false), b = compact.forward(x, training: false)
        var diff: Float = 0
        for i in 0..<a.count { diff = max(diff, abs(a.scalars[i] - b.scalars[i])) }
        let eval = Evaluation.run(
            compact, images: data.test.images, labels: data.test.labels,
            workers: run.session.evaluationWorkers)
        let specs = try compactSpecs(config: run.config.model, units: result.units)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // the same bytes every run (dictionary order is seeded per process)
        let specJSON = String(decoding: try encoder.encode(specs), as: UTF8.self)
        let configJSON = String(decoding: try ConfigLoader.canonicalJSON(run.config), as: UTF8.self)
        let file = run.folder.file("model-compact.h5")
        try AtomicFile.write(to: file) { path in
            try ModelFiles.writeDense(model: compact, configJSON: configJSON, path: path, attributes: [("layers", specJSON)])
        }
        try LayerReport.table(compact).write(to: run.folder.file("layers-compact.csv"))
        let t = InferenceReport.measure(compact, data: data)
        return [
            SummaryColumn("compact_weights", .int(compact.weightCounts.total)),
            SummaryColumn("compact_bytes", .int(ModelFiles.fileSize(file))),
            SummaryColumn("compact_test_accuracy", .double(eval.accuracy)),
            SummaryColumn("compact_max_abs_diff", .double(Double(diff))),
            SummaryColumn("dense_flops", .int(try fullForwardFLOPs(run))),
            SummaryColumn("compact_flops", .int(compact.forwardFLOPs(activeOnly: false))),
            SummaryColumn("compact_infer_ms_b1", .double(t.b1)),
            SummaryColumn("compact_infer_ms_b128", .double(t.b128)),
        ]
    }

    /// Forward FLOPs per sample of the network as configured, every unit present (the model
    /// itself is smaller when units left it during training).
    static func fullForwardFLOPs(_ run: RunContext) throws -> Int {
        let train = run.data.train
        return try ModelRegistry.build(run.config.model, inputShape: train.sampleShape, classCount: train.classCount)
            .forwardFLOPs(activeOnly: false)
    }

    /// The layer list of the compacted model: the config's layers with each weighted layer's
    /// units set to what survived (the weighted layers, in order, are the conv and dense
    /// entries of the list, in order). A `batchnorm` right after a conv or dense entry without
    /// an activation was folded into it, so the pair becomes that entry with the batch norm's
    /// activation. Build a model from it (config `model.layers`) and load `model-compact.h5`
    /// through `model.init_file`.
    static func compactSpecs(config: ModelConfig, units: [(layer: String, before: Int, after: Int)]) throws -> [LayerSpec] {
        var next = units.makeIterator()
        var out: [LayerSpec] = []
        for spec in try ModelRegistry.layerSpecs(config) {
            if spec.kind == .batchnorm, let last = out.last, last.units != nil, last.activation == .none {
                out[out.count - 1] = last.withActivation(spec.activation)
                continue
            }
            guard spec.units != nil, let u = next.next() else {
                out.append(spec)
                continue
            }
            out.append(spec.withUnits(u.after))
        }
        return out
    }
}

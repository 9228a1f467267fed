import Foundation
import Schema

/// A whole experiment, decoded strictly from JSON. See `configs/README.md` for every key.
///
/// Defaults live here and only here; `config.json` in a run folder is this struct re-encoded,
/// so it lists every value the run used.
public struct ExperimentConfig: ConfigSection {
    public static let keyHelp: [(key: String, help: String)] = [
        ("name", "run name, written to `summary.csv`"),
        (
            "seed",
            "every random choice derives from it: initial weights (stream `init`), data order (`data`), dropout masks (`dropout`), crops and flips (`augment`), criteria (`criterion.<name>`)"
        ),
        ("data", "where the images come from, see `data`; required"),
        ("model", "the network, see `model`; required"),
        ("training", "optimizer, schedule and length, see `training`"),
        ("pruning", "the method and its section, see `pruning`"),
        ("recording", "weight trajectories, see `recording`"),
        ("checkpoint", "checkpoints for `prunelab run --resume`, see `checkpoint`"),
        ("tensorboard", "TensorBoard event files in `tb/`, see `tensorboard`"),
    ]

    public var name: String
    public var seed: UInt64
    public var data: DataConfig
    public var model: ModelConfig
    public var training: TrainingConfig
    public var pruning: PruningConfig
    public var recording: RecordingConfig
    public var checkpoint: CheckpointConfig
    public var tensorboard: TensorBoardConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, seed, data, model, training, pruning, recording, checkpoint, tensorboard
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.value(.name, default: "experiment")
        seed = try c.value(.seed, default: 1)
        data = try c.decode(DataConfig.self, forKey: .data)
        model = try c.decode(ModelConfig.self, forKey: .model)
        training = try c.value(.training, default: try TrainingConfig.defaults())
        pruning = try c.value(.pruning, default: try PruningConfig.defaults())
        recording = try c.value(.recording, default: try RecordingConfig.defaults())
        checkpoint = try c.value(.checkpoint, default: try CheckpointConfig.defaults())
        tensorboard = try c.value(.tensorboard, default: try TensorBoardConfig.defaults())
    }

    /// Range checks that the type system cannot express; throws with the offending path.
    public func validate(at path: String = "") throws {
        guard !name.isEmpty else { throw ConfigError(path: "name", "must not be empty") }
        try data.validate()
        try model.validate()
        try training.validate()
        try pruning.validate()
        try recording.validate()
        try checkpoint.validate(at: "checkpoint")
        try tensorboard.validate(at: "tensorboard")
    }
}

import ArgumentParser
import Foundation
import Experiments

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize (1 bit: binarize) a finished run's weights; write model-quantized.h5 and the accuracy before and after.")

    @Argument(help: "A finished run folder (holds config.json and model.h5).")
    var runDir: String

    @Option(help: "Bits per weight code: 1 (sign · mean |w|), 2, 4 or 8 (symmetric uniform).")
    var bits: Int

    @Flag(inversion: .prefixedNo, help: "One scale per output channel (--no-per-channel: one per layer).")
    var perChannel = true

    @Option(help: "Write the outputs here (a new or empty folder) instead of into the run folder.")
    var out: String?

    @Option(help: "Epochs of quantization-aware training (straight-through estimator) before quantizing.")
    var finetuneEpochs = 0

    @Option(help: "Learning rate of the fine-tuning (default: the run's training.learning_rate).")
    var finetuneLr: Double?

    func validate() throws {
        try requirePath(out, "--out", "runs/lenet-q4")
        try requirePath(runDir, "RUN_DIR", "runs/lenet")
        if ![1, 2, 4, 8].contains(bits) { throw ValidationError("--bits \(bits): unsupported; use 1, 2, 4 or 8") }
        if finetuneEpochs < 0 { throw ValidationError("--finetune-epochs must be >= 0, got \(finetuneEpochs)") }
        if let finetuneLr, !(finetuneLr > 0) { throw ValidationError("--finetune-lr must be > 0, got \(finetuneLr)") }
    }

    func run() throws {
        try reportingErrors {
            let r = try PostTrainingQuantization.run(
                .init(
                    runDir: runDir, bits: bits, perChannel: perChannel, outDir: out, finetuneEpochs: finetuneEpochs,
                    finetuneLearningRate: finetuneLr))
            print(PostTrainingQuantization.report(r, bits: bits))
        }
    }
}

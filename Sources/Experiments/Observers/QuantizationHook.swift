import TensorCore
import NN
import Training
import Quantization

/// Quantization-aware training's straight-through estimator (`training.quantize`).
///
/// Before each step from `startStep` on, every prunable weight is replaced by its
/// fake-quantized value (`FakeQuantize`, the values `model-quantized.h5` would hold); after the
/// backward pass the float weights come back, so the optimizer applies the gradient taken at
/// the quantized weights to the float weights: dL/dw is taken as dL/dq (Bengio et al. 2013).
/// Biases stay in float. Holds no state between steps, so a resumed run continues exactly.
final class QuantizationHook: GradientPointHook {
    let spec: QuantizationSpec
    /// Steps already taken before the first quantized step.
    let startStep: Int
    private var saved: [(Parameter, Tensor)] = []

    init(spec: QuantizationSpec, startStep: Int) {
        self.spec = spec
        self.startStep = startStep
    }

    func willComputeGradients(_ trainer: Trainer) {
        guard trainer.step >= startStep else { return }
        for l in trainer.model.weightedLayers {
            let w = l.weight
            saved.append((w, w.value))
            var q = w.value.scalars
            FakeQuantize.apply(&q, rows: w.value.shape.first ?? 1, mask: w.mask?.scalars, spec: spec)
            w.value = Tensor(shape: w.value.shape, scalars: q)
        }
    }

    func didComputeGradients(_ trainer: Trainer) {
        for (p, value) in saved { p.value = value }
        saved.removeAll(keepingCapacity: true)
    }
}

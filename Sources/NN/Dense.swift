import TensorCore

/// Fully connected layer `y = x W^T + b`.
///
/// `weight` is `[out, in]` row-major (PyTorch's layout), `bias` is `[out]`. An input of any rank
/// `[B, ...]` is flattened to `[B, in]`; the input gradient is returned in the input's shape.
public final class Dense: Layer {
    public let name: String
    public let inputSize: Int
    public let outputSize: Int
    public let weight: Parameter
    public let bias: Parameter
    private var input = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public init(name: String, inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "\(name): sizes must be positive, got \(inputSize)->\(outputSize)")
        self.name = name
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(name: "\(name).weight", value: Tensor(shape: [outputSize, inputSize]), isPrunable: true)
        bias = Parameter(name: "\(name).bias", value: Tensor(shape: [outputSize]), isPrunable: false)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func replica() -> Layer { Dense(name: name, inputSize: inputSize, outputSize: outputSize) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.reduce(1, *) == inputSize, "\(name) expects \(inputSize) inputs, got shape \(inputShape)")
        return [outputSize]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let batch = x.rows
        precondition(x.rowSize == inputSize, "\(name) expects \(inputSize) inputs per sample, got \(x.shape)")
        input = x
        inputShape = x.shape
        var y = Tensor(uninitializedShape: [batch, outputSize])  // bias rows copied in below
        let out = outputSize, inp = inputSize
        bias.value.scalars.withUnsafeBufferPointer { b in
            y.scalars.withUnsafeMutableBufferPointer { py in
                for r in 0..<batch {
                    (py.baseAddress! + r * out).update(from: b.baseAddress!, count: out)
                }
                x.scalars.withUnsafeBufferPointer { px in
                    weight.value.scalars.withUnsafeBufferPointer { pw in
                        BLAS.sgemm(transA: false, transB: true, m: batch, n: out, k: inp,
                                   a: px.baseAddress!, b: pw.baseAddress!, beta: 1, c: py.baseAddress!)
                    }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) -> Tensor? {
        let batch = dy.rows
        let out = outputSize, inp = inputSize
        precondition(dy.shape == [batch, out] && input.rows == batch, "\(name): gradient \(dy.shape) does not match the forward batch")
        dy.scalars.withUnsafeBufferPointer { pdy in
            input.scalars.withUnsafeBufferPointer { px in
                weight.grad.scalars.withUnsafeMutableBufferPointer { pgw in
                    // dW[out, in] = dy^T [out, B] * x [B, in]
                    BLAS.sgemm(transA: true, transB: false, m: out, n: inp, k: batch,
                               a: pdy.baseAddress!, b: px.baseAddress!, c: pgw.baseAddress!)
                }
            }
            bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                pgb.update(repeating: 0)
                for r in 0..<batch {
                    let row = pdy.baseAddress! + r * out
                    for j in 0..<out { pgb[j] += row[j] }
                }
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor(uninitializedShape: inputShape)  // sgemm with beta 0 writes every entry
        dy.scalars.withUnsafeBufferPointer { pdy in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                dx.scalars.withUnsafeMutableBufferPointer { pdx in
                    // dx[B, in] = dy [B, out] * W [out, in]
                    BLAS.sgemm(transA: false, transB: false, m: batch, n: inp, k: out,
                               a: pdy.baseAddress!, b: pw.baseAddress!, c: pdx.baseAddress!)
                }
            }
        }
        return dx
    }

    public func forwardFLOPs(inputShape: [Int], activeOnly: Bool) -> Int {
        let w = activeOnly ? weight.activeCount : weight.value.count
        return 2 * w + outputSize
    }

    public func backwardFLOPs(inputShape: [Int], needInputGrad: Bool, activeOnly: Bool) -> Int {
        let w = activeOnly ? weight.activeCount : weight.value.count
        return 2 * w + outputSize + (needInputGrad ? 2 * w : 0)
    }
}

import CSparseKernels
import Dispatch
import TensorCore

/// A direct sparse convolution over the live weights of a masked `Conv2D`: no im2col columns,
/// and the pruned taps cost nothing (SparseProp's approach for convolutions, on the
/// channels-first layout as it is).
///
/// Each sample's input is rearranged into `C * s * s` zero-padded phase planes `Hs x Ws`
/// (`s` the stride, `Hs = ceil((H + 2*pad) / s)`; see `psk_phase_planes`). Tap `(c, i, j)`
/// with `i = qi*s + a`, `j = qj*s + b` then reads plane `(c, a, b)` at
/// `(oh + qi)*Ws + ow + qj`, so with outputs indexed "wide", `t = oh*Ws + ow` (lanes with
/// `ow >= outW` computed and dropped), each live tap is one shifted run of the plane:
/// - forward `Yw[o, t] = bias[o] + sum_{live (c,i,j) of o} W[o,c,i,j] * P[off(c,i,j) + t]`;
/// - weight gradient at the live entries only, `dW[o,c,i,j] = sum_t dYw[o, t] * P[off + t]`
///   (`dYw` zero in the dropped lanes);
/// - input gradient per plane `dP[p, u] = sum_{live (o, qi, qj) in p} W * dYw[o, u - (qi*Ws + qj)]`
///   (a gather over `dYw` with zeros in front), read back into `dx` without the padding.
///
/// Why hand-written: no library here does sparse-weight convolution (OpenBLAS is dense; see
/// `csparsekernels.h` for the sparse libraries Debian ships, none with a convolution).
final class DirectSparseConv {
    let pattern: SparsityPattern
    let height: Int, width: Int
    let channels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    let outH: Int, outW: Int
    /// Phase plane size and stride (a multiple of 16), forward lanes (a multiple of 16 covering
    /// the wide outputs), zeros in front of each `dYw` row and that row's length.
    let hs: Int, ws: Int, planeStride: Int, lanes: Int, front: Int, gradientRow: Int
    var planes: Int { channels * stride * stride }
    /// Forward and weight gradient: the CSR rows (output channels) with each entry's plane offset.
    let forwardOffsets: [Int32]
    /// Input gradient: entries grouped by plane, their weights and `dYw` offsets.
    let planePtr: [Int32], planeWeight: [Int32], planeOffset: [Int32]
    private var xp: [Float], yw: [Float], dyw: [Float], dxp: [Float]

    init(pattern: SparsityPattern, layer: Conv2D, height: Int, width: Int) {
        self.pattern = pattern
        self.height = height
        self.width = width
        let c = layer.inChannels, k = layer.kernel, s = layer.stride, pad = layer.padding
        channels = c
        outChannels = layer.outChannels
        kernel = k
        stride = s
        padding = pad
        outH = (height + 2 * pad - k) / s + 1
        outW = (width + 2 * pad - k) / s + 1
        let hs = (height + 2 * pad + s - 1) / s, ws = (width + 2 * pad + s - 1) / s
        let ps = (hs * ws + 15) / 16 * 16
        self.hs = hs
        self.ws = ws
        planeStride = ps
        lanes = ((outH - 1) * ws + outW + 15) / 16 * 16
        let q = (k - 1) / s
        front = q * ws + q
        gradientRow = front + ps
        let taps = c * k * k
        // tap (c, i, j): its plane and its shift within the plane
        func plane(_ t: Int) -> Int { ((t / (k * k)) * s + (t / k) % k % s) * s + t % k % s }
        func shift(_ t: Int) -> Int { (t / k % k / s) * ws + t % k / s }
        forwardOffsets = pattern.csrFlat.map { f in
            let t = Int(f) % taps
            return Int32(plane(t) * ps + shift(t))
        }
        var ptr: [Int32] = [0], wIdx: [Int32] = [], off: [Int32] = []
        let row = front + ps, fr = front
        for p in 0..<(c * s * s) {
            let ch = p / (s * s), a = p / s % s, b = p % s
            for i in Swift.stride(from: a, to: k, by: s) {
                for j in Swift.stride(from: b, to: k, by: s) {
                    let col = (ch * k + i) * k + j
                    for e in Int(pattern.cscPtr[col])..<Int(pattern.cscPtr[col + 1]) {
                        wIdx.append(pattern.cscFlat[e])
                        off.append(Int32(Int(pattern.cscRow[e]) * row + fr - shift(col)))
                    }
                }
            }
            ptr.append(Int32(wIdx.count))
        }
        planePtr = ptr
        planeWeight = wIdx
        planeOffset = off
        // 16 spare floats: the last plane's forward runs read up to 15 lanes past it
        xp = [Float](repeating: 0, count: c * s * s * ps + 16)
        yw = [Float](repeating: 0, count: layer.outChannels * lanes)
        dyw = [Float](repeating: 0, count: layer.outChannels * row)
        dxp = [Float](repeating: 0, count: c * s * s * ps)
    }

    func matches(_ p: SparsityPattern, height h: Int, width w: Int) -> Bool { p === pattern && h == height && w == width }

    private func phasePlanes(_ x: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        psk_phase_planes(
            x, Int32(channels), Int32(height), Int32(width), Int32(stride), Int32(padding),
            Int32(hs), Int32(ws), planeStride, dst)
    }

    /// `y [batch, outC, outH, outW]` of `x [batch, C, H, W]`.
    func forward(
        x: UnsafePointer<Float>, batch: Int, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>
    ) {
        let sample = channels * height * width, p = outH * outW
        xp.withUnsafeMutableBufferPointer { pxp in
            yw.withUnsafeMutableBufferPointer { pyw in
                pattern.withCSR { ptr, flat, _ in
                    forwardOffsets.withUnsafeBufferPointer { off in
                        for b in 0..<batch {
                            phasePlanes(x + b * sample, pxp.baseAddress!)
                            psk_ospmm(
                                Int32(outChannels), Int32(lanes), ptr, flat, off.baseAddress, w, pxp.baseAddress!,
                                bias, pyw.baseAddress!, lanes)
                            for o in 0..<outChannels {
                                let dst = y + (b * outChannels + o) * p
                                for r in 0..<outH {
                                    (dst + r * outW).update(from: pyw.baseAddress! + o * lanes + r * ws, count: outW)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Weight gradient at the live entries of `g` (added to `g` when `accumulate`, pruned
    /// entries untouched), bias gradient into `gb`, and `dx` when given.
    func backward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, batch: Int, w: UnsafePointer<Float>,
        g: UnsafeMutablePointer<Float>, gb: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?
    ) {
        let sample = channels * height * width, p = outH * outW
        gb.update(repeating: 0, count: outChannels)
        xp.withUnsafeMutableBufferPointer { pxp in
            dyw.withUnsafeMutableBufferPointer { pdy in
                dxp.withUnsafeMutableBufferPointer { pdx in
                    pdy.update(repeating: 0)  // the dropped lanes and the front stay 0
                    for b in 0..<batch {
                        phasePlanes(x + b * sample, pxp.baseAddress!)
                        for o in 0..<outChannels {
                            let src = dy + (b * outChannels + o) * p
                            gb[o] += Kernels.sum(src, count: p)
                            let row = pdy.baseAddress! + o * gradientRow + front
                            for r in 0..<outH { (row + r * ws).update(from: src + r * outW, count: outW) }
                        }
                        weightGradient(pdy.baseAddress!, pxp.baseAddress!, g, accumulate: b > 0)
                        guard let dx else { continue }
                        inputGradient(pdy.baseAddress!, w, pdx.baseAddress!)
                        psk_phase_planes_back(
                            pdx.baseAddress!, Int32(channels), Int32(height), Int32(width), Int32(stride),
                            Int32(padding), Int32(hs), Int32(ws), planeStride, dx + b * sample)
                    }
                }
            }
        }
    }

    private func weightGradient(
        _ dyw: UnsafePointer<Float>, _ xp: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        pattern.withCSR { ptr, flat, _ in
            forwardOffsets.withUnsafeBufferPointer { off in
                psk_osddmm(
                    Int32(outChannels), Int32(lanes), ptr, flat, off.baseAddress, dyw + front, gradientRow,
                    xp, g, accumulate ? 1 : 0)
            }
        }
    }

    private func inputGradient(_ dyw: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dxp: UnsafeMutablePointer<Float>) {
        planePtr.withUnsafeBufferPointer { ptr in
            planeWeight.withUnsafeBufferPointer { flat in
                planeOffset.withUnsafeBufferPointer { off in
                    psk_ospmm(
                        Int32(planes), Int32(planeStride), ptr.baseAddress!, flat.baseAddress, off.baseAddress,
                        w, dyw, nil, dxp, planeStride)
                }
            }
        }
    }
}

extension Conv2D {
    /// The direct sparse plan for this input size, built once per pattern and size.
    func directPlan(_ pattern: SparsityPattern, height: Int, width: Int) -> DirectSparseConv {
        if let d = direct, d.matches(pattern, height: height, width: width) { return d }
        let d = DirectSparseConv(pattern: pattern, layer: self, height: height, width: width)
        direct = d
        return d
    }

    /// Forward through the direct sparse convolution.
    func directForward(_ x: Tensor, pattern: SparsityPattern) -> Tensor {
        let plan = directPlan(pattern, height: x.shape[2], width: x.shape[3])
        let batch = x.shape[0]
        var y = Tensor(uninitializedShape: [batch, outChannels, plan.outH, plan.outW])  // every entry written
        x.scalars.withUnsafeBufferPointer { px in
            weight.value.scalars.withUnsafeBufferPointer { pw in
                bias.value.scalars.withUnsafeBufferPointer { pb in
                    y.scalars.withUnsafeMutableBufferPointer { py in
                        plan.forward(
                            x: px.baseAddress!, batch: batch, w: pw.baseAddress!, bias: pb.baseAddress!,
                            y: py.baseAddress!)
                    }
                }
            }
        }
        return y
    }

    /// Backward through the direct sparse convolution of the latest forward.
    func directBackward(_ x: Tensor, _ dy: Tensor, pattern: SparsityPattern, needInputGrad: Bool) -> Tensor? {
        let plan = directPlan(pattern, height: x.shape[2], width: x.shape[3])
        let batch = x.shape[0]
        precondition(
            dy.shape == [batch, outChannels, plan.outH, plan.outW],
            "\(name): gradient \(dy.shape) does not match the forward output [\(batch), \(outChannels), \(plan.outH), \(plan.outW)]")
        if weight.gradientPattern !== pattern {
            // pruned entries are never written by the sparse weight gradient: zero them once per pattern
            weight.grad.fill(0)
        }
        weight.gradientPattern = pattern
        var dx = needInputGrad ? Tensor(shape: x.shape) : Tensor(shape: [0])
        x.scalars.withUnsafeBufferPointer { px in
            dy.scalars.withUnsafeBufferPointer { pdy in
                weight.value.scalars.withUnsafeBufferPointer { pw in
                    weight.grad.scalars.withUnsafeMutableBufferPointer { pg in
                        bias.grad.scalars.withUnsafeMutableBufferPointer { pgb in
                            dx.scalars.withUnsafeMutableBufferPointer { pdx in
                                plan.backward(
                                    x: px.baseAddress!, dy: pdy.baseAddress!, batch: batch, w: pw.baseAddress!,
                                    g: pg.baseAddress!, gb: pgb.baseAddress!, dx: needInputGrad ? pdx.baseAddress! : nil)
                            }
                        }
                    }
                }
            }
        }
        return needInputGrad ? dx : nil
    }
}

extension Conv2D {
    /// The pattern to run the direct sparse convolution on, or nil for im2col + SGEMM (see
    /// `KernelPolicy`). `measured` times both on this layer's weights for the batch's
    /// positions (power-of-two batch bucket); inference passes follow the latest training
    /// choice.
    func directSparsePattern(batch: Int, height: Int, width: Int, training: Bool) -> SparsityPattern? {
        guard kernelPolicy != .dense, let pattern = weight.sparsityPattern else { return nil }
        switch kernelPolicy {
        case .sparse: return pattern
        case .auto:
            let direct = pattern.density <= KernelCrossover.autoDensity || pattern.cols <= KernelCrossover.directConvTaps
            return direct ? pattern : nil
        case .dense: return nil
        case .measured: break
        }
        if pattern.density > KernelCrossover.maxMeasuredDensity { return nil }
        let shape = outputShape(for: [inChannels, height, width])
        if training { lastTrainingBatch = KernelCrossover.batchBucket(batch) }
        guard let bucket = lastTrainingBatch else { return nil }
        let key = KernelCrossover.Key(
            rows: outChannels, cols: pattern.cols, batch: bucket * shape[1] * shape[2], inputGradient: wantsInputGradient,
            band: KernelCrossover.band(of: pattern.density), im2col: true)
        let choice: KernelKind
        if training {
            choice = KernelCrossover.choice(key: key, density: pattern.density, in: kernelChoices) {
                DirectConvTiming.measure(
                    layer: self, batch: bucket, height: height, width: width, inputGradient: wantsInputGradient)
            }
        } else {
            choice = kernelChoices.state.withLock { $0.choices[key] } ?? .dense
        }
        return choice == .sparse ? pattern : nil
    }
}

/// Times a masked convolution layer forward and backward with im2col + SGEMM and with the
/// direct sparse convolution (used by `measured` and by the benchmark's layer timings).
public enum DirectConvTiming {
    /// Best-of-5 seconds of one forward + backward of a copy of `layer` (its weights and
    /// pattern) on random `[batch, C, height, width]` inputs, dense and sparse.
    public static func measure(layer: Conv2D, batch: Int, height: Int, width: Int, inputGradient: Bool)
        -> (dense: Double, sparse: Double)
    {
        guard let c = layer.replica() as? Conv2D else { return (0, .infinity) }
        c.kernelChoices = KernelChoices()
        c.weight.value = layer.weight.value
        c.bias.value = layer.bias.value
        c.weight.sharePattern(from: layer.weight)
        var rng = RandomSource(seed: 9)
        let x = Tensor(
            shape: [batch, layer.inChannels, height, width],
            scalars: (0..<(batch * layer.inChannels * height * width)).map { _ in Float(rng.nextUniform()) })
        let o = c.outputShape(for: [layer.inChannels, height, width])
        let dy = Tensor(
            shape: [batch] + o, scalars: (0..<(batch * o.reduce(1, *))).map { _ in Float(rng.nextUniform() - 0.5) })
        func time(_ policy: KernelPolicy) -> Double {
            c.kernelPolicy = policy
            var best = Double.infinity
            for r in 0..<6 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = c.forward(x, training: true)
                _ = c.backward(dy, needInputGrad: inputGradient)
                if r > 0 { best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }  // r 0 warms up
            }
            return best
        }
        return (time(.dense), time(.sparse))
    }
}

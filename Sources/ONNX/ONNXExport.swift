import Foundation
import NN
import SwiftProtobuf
import TensorCore

/// A `Sequential` as an ONNX model (opset 17 of the default domain, IR version 8), in
/// evaluation mode: the graph computes what `Sequential.forward(x, training: false)` does.
///
/// Graph input `input` is `[N, C, H, W]` (or `[N, F]`) float32 with a symbolic batch `N`;
/// output `logits` (an `Identity` of the last layer's output) is the model's forward output,
/// `[N, classes]`, before the loss's softmax (a sigmoid model has one logit). Layers map to
/// nodes: `Conv2D` to `Conv` (square kernel, strides, symmetric pads), `Dense` to `Gemm` (`transB` 1, so the weight keeps
/// PruneLab's `[out, in]` layout), `MaxPool2D` to `MaxPool`, `BatchNorm` to
/// `BatchNormalization` (running statistics), `Flatten` to `Flatten` (axis 1), `GlobalAvgPool` to
/// `GlobalAveragePool` and `Flatten`, activations to `Relu`, `Sigmoid`, `Tanh`, residual blocks
/// to their body and `Add`, concat blocks to `Concat` along axis 1; `Dropout` is left out (the
/// identity at evaluation). Weights are initializers in `raw_data` (little-endian float32),
/// multiplied by their masks: pruned weights are stored as zeros.
public enum ONNXExport {
    /// The ONNX operator set the graphs use (the tests run the graphs in onnxruntime 1.32).
    public static let opset: Int64 = 17
    /// ONNX's IR version 8 (ONNX 1.10 onwards), the one that goes with opset 17.
    public static let irVersion: Int64 = 8
    static let float: Int32 = 1  // TensorProto.DataType.FLOAT

    /// The ONNX model of `model`; `producer` and `version` name the writer (`prunelab`, `0.2.0`).
    public static func model(_ model: Sequential, producer: String, version: String) -> Onnx_ModelProto {
        var graph = GraphBuilder()
        var x = "input"
        var rank = model.inputShape.count + 1
        for (layer, shape) in zip(model.layers, model.layerInputShapes) {
            (x, rank) = graph.append(layer, input: x, rank: rank, shape: shape)
        }
        var g = Onnx_GraphProto()
        g.name = "prunelab"
        g.node = graph.nodes
        g.initializer = graph.initializers
        g.input = [valueInfo("input", dims: model.inputShape)]
        g.output = [valueInfo("logits", dims: model.outputShape)]
        var identity = Onnx_NodeProto()
        (identity.opType, identity.input, identity.output, identity.name) = ("Identity", [x], ["logits"], "output")
        g.node.append(identity)
        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        var set = Onnx_OperatorSetIdProto()
        (set.domain, set.version) = ("", opset)
        m.opsetImport = [set]
        (m.producerName, m.producerVersion) = (producer, version)
        m.graph = g
        return m
    }

    /// The serialized bytes of `model(...)`.
    public static func data(_ model: Sequential, producer: String, version: String) throws -> Data {
        try Self.model(model, producer: producer, version: version).serializedData()
    }

    /// A float32 value of shape `[N] + dims` with a symbolic batch `N`.
    static func valueInfo(_ name: String, dims: [Int]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        shape.dim =
            [batch]
            + dims.map { d in
                var dim = Onnx_TensorShapeProto.Dimension()
                dim.dimValue = Int64(d)
                return dim
            }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = float
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}

/// Nodes and initializers, appended layer by layer; each node's output is named after its layer.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []

    /// Appends the nodes of `layer` reading `input` (of rank `rank`, per-sample shape `shape`);
    /// returns its output's name and rank.
    mutating func append(_ layer: Layer, input: String, rank: Int, shape: [Int]) -> (String, Int) {
        let out = layer.name
        switch layer {
        case let conv as Conv2D:
            let w = weight(conv.weight, "\(out).weight"), b = weight(conv.bias, "\(out).bias")
            let k = Int64(conv.kernel), s = Int64(conv.stride), p = Int64(conv.padding)
            node("Conv", [input, w, b], out, [ints("kernel_shape", [k, k]), ints("strides", [s, s]), ints("pads", [p, p, p, p])])
            return (out, 4)
        case let dense as Dense:
            let x = rank == 2 ? input : flatten(input, name: "\(out).flatten")
            let w = weight(dense.weight, "\(out).weight"), b = weight(dense.bias, "\(out).bias")
            node("Gemm", [x, w, b], out, [int("transB", 1)])
            return (out, 2)
        case let pool as MaxPool2D:
            let k = Int64(pool.kernel), s = Int64(pool.stride)
            node("MaxPool", [input], out, [ints("kernel_shape", [k, k]), ints("strides", [s, s])])
            return (out, rank)
        case let bn as BatchNorm:
            let names = [
                ("gamma", bn.gamma.value), ("beta", bn.beta.value), ("running_mean", bn.runningMean), ("running_var", bn.runningVar),
            ]
            .map { tensor($1, "\(out).\($0)") }
            node(
                "BatchNormalization", [input] + names, out,
                [float("epsilon", Float(bn.epsilon)), float("momentum", Float(1 - bn.momentum))])
            return (out, rank)
        case let act as Activation:
            node(act.kind.onnxOperator, [input], out, [])
            return (out, rank)
        case is Flatten:
            return (flatten(input, name: out), 2)
        case is GlobalAvgPool:
            node("GlobalAveragePool", [input], "\(out).pooled", [])
            return (flatten("\(out).pooled", name: out), 2)
        case is Dropout:
            return (input, rank)
        case let block as Block:
            return (self.block(block, input: input, rank: rank, shape: shape), rank)
        default:
            preconditionFailure("\(layer.name): \(type(of: layer)) has no ONNX form here")
        }
    }

    /// A residual (`Add`) or concat (`Concat`, axis 1) block: its body, then the merge.
    mutating func block(_ block: Block, input: String, rank: Int, shape: [Int]) -> String {
        var (x, r) = (input, rank)
        for (layer, s) in zip(block.body, block.bodyInputShapes(for: shape)) {
            (x, r) = append(layer, input: x, rank: r, shape: s)
        }
        switch block.merge {
        case .add: node("Add", [input, x], block.name, [])
        case .concat: node("Concat", [input, x], block.name, [int("axis", 1)])
        }
        return block.name
    }

    mutating func flatten(_ input: String, name: String) -> String {
        node("Flatten", [input], name, [int("axis", 1)])
        return name
    }

    mutating func node(_ op: String, _ inputs: [String], _ output: String, _ attributes: [Onnx_AttributeProto]) {
        var n = Onnx_NodeProto()
        (n.opType, n.input, n.output, n.name, n.attribute) = (op, inputs, [output], output, attributes)
        nodes.append(n)
    }

    /// A parameter's values times its mask (pruned entries exactly 0) as an initializer.
    mutating func weight(_ p: Parameter, _ name: String) -> String {
        guard let mask = p.mask else { return tensor(p.value, name) }
        let kept = zip(p.value.scalars, mask.scalars).map { $1 != 0 ? $0 : 0 }
        return tensor(Tensor(shape: p.value.shape, scalars: kept), name)
    }

    /// An initializer holding `t` as little-endian float32 `raw_data`.
    mutating func tensor(_ t: Tensor, _ name: String) -> String {
        var proto = Onnx_TensorProto()
        proto.name = name
        proto.dataType = ONNXExport.float
        proto.dims = t.shape.map { Int64($0) }
        let words = t.scalars.map { $0.bitPattern.littleEndian }
        proto.rawData = words.withUnsafeBufferPointer { Data(buffer: $0) }
        initializers.append(proto)
        return name
    }

    func int(_ name: String, _ v: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.i) = (name, .int, v)
        return a
    }

    func ints(_ name: String, _ v: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.ints) = (name, .ints, v)
        return a
    }

    func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.f) = (name, .float, v)
        return a
    }
}

extension ActivationKind {
    /// The ONNX operator computing this activation.
    var onnxOperator: String {
        switch self {
        case .relu: return "Relu"
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        }
    }
}

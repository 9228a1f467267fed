import Foundation

/// The subset of TensorFlow's `Event` protobuf (tensorflow/core/util/event.proto and
/// summary.proto) that PruneLab writes: file version, scalars (`simple_value`), histograms
/// (`HistogramProto`), a plugin's summary (`SummaryMetadata.plugin_data` with an empty tensor,
/// as the HParams plugin reads them) and the `SessionLog` START that marks a resumed run.
///
/// Encoded by hand rather than with apple/swift-protobuf: PruneLab only writes these few small
/// messages and never reads them, so the wire format needed is three field kinds (varint,
/// 64/32-bit fixed, length-delimited) in about forty lines, whereas swift-protobuf adds its
/// runtime module to every build of the package (and CI's fresh clone) plus generated code for
/// the messages. The output is checked by TensorBoard's own reader (`EventAccumulator`) in the
/// test suite.
public struct TensorBoardEvent {
    /// A histogram of values: TensorBoard's `HistogramProto`, with `bucketLimit[i]` the right
    /// edge of bucket `i`.
    public struct Histogram: Equatable {
        public var min = 0.0, max = 0.0, num = 0.0, sum = 0.0, sumSquares = 0.0
        public var bucketLimit: [Double] = [], bucket: [Double] = []

        /// `values` in `buckets` equal-width buckets between their minimum and maximum (one
        /// bucket when they are all equal; empty when there are none).
        public init(_ values: [Float], buckets: Int = 30) {
            guard let lo = values.min().map(Double.init), let hi = values.max().map(Double.init) else { return }
            (min, max, num) = (lo, hi, Double(values.count))
            for v in values {
                sum += Double(v)
                sumSquares += Double(v) * Double(v)
            }
            let n = hi > lo ? Swift.max(1, buckets) : 1
            let width = (hi - lo) / Double(n)
            bucketLimit = (1...n).map { $0 == n ? hi : lo + width * Double($0) }
            bucket = [Double](repeating: 0, count: n)
            for v in values {
                let i = width > 0 ? Int((Double(v) - lo) / width) : 0
                bucket[Swift.min(Swift.max(i, 0), n - 1)] += 1
            }
        }
    }

    /// What one event carries.
    public enum Payload {
        case fileVersion(String)
        case scalars([(tag: String, value: Double)])
        case histograms([(tag: String, histogram: Histogram)])
        /// A plugin's summary under `tag`: `metadata.plugin_data` {`plugin_name`, `content`} and
        /// an empty float tensor (dtype 1, shape [0]) as its value.
        case plugin(tag: String, plugin: String, content: [UInt8])
        /// `SessionLog` START: TensorBoard drops earlier events at this step and later.
        case sessionStart
    }

    public var wallTime: Double
    public var step: Int
    public var payload: Payload

    public init(wallTime: Double, step: Int, payload: Payload) {
        self.wallTime = wallTime
        self.step = step
        self.payload = payload
    }

    /// The `Event` message's bytes.
    public var encoded: [UInt8] {
        var w = ProtoWriter()
        w.double(1, wallTime)
        w.varint(2, UInt64(bitPattern: Int64(step)))
        switch payload {
        case .fileVersion(let v): w.bytes(3, Array(v.utf8))
        case .scalars(let values):
            w.message(5) { s in
                for v in values {
                    s.message(1) {
                        $0.bytes(1, Array(v.tag.utf8))
                        $0.float(2, Float(v.value))
                    }
                }
            }
        case .histograms(let values):
            w.message(5) { s in
                for v in values {
                    s.message(1) {
                        $0.bytes(1, Array(v.tag.utf8))
                        $0.message(5) { Self.encode(v.histogram, into: &$0) }
                    }
                }
            }
        case .plugin(let tag, let plugin, let content):
            w.message(5) { s in
                s.message(1) { v in
                    v.bytes(1, Array(tag.utf8))
                    v.message(9) { m in
                        m.message(1) {
                            $0.bytes(1, Array(plugin.utf8))
                            $0.bytes(2, content)
                        }
                    }
                    v.message(8) { t in
                        t.varint(1, 1)
                        t.message(2) { $0.message(2) { _ in } }
                    }
                }
            }
        case .sessionStart: w.message(7) { $0.varint(1, 1) }  // Event.session_log, SessionLog.status START
        }
        return w.out
    }

    static func encode(_ h: Histogram, into w: inout ProtoWriter) {
        for (field, v) in [(1, h.min), (2, h.max), (3, h.num), (4, h.sum), (5, h.sumSquares)] { w.double(field, v) }
        w.packedDoubles(6, h.bucketLimit)
        w.packedDoubles(7, h.bucket)
    }
}

/// Protocol-buffer wire encoding of the field kinds the event messages use.
struct ProtoWriter {
    var out: [UInt8] = []

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ v: UInt64) {
        key(field, 0)
        rawVarint(v)
    }

    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        out += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init)
    }

    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        out += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init)
    }

    mutating func bytes(_ field: Int, _ b: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(b.count))
        out += b
    }

    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        guard !values.isEmpty else { return }
        var inner = ProtoWriter()
        for v in values { inner.out += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        bytes(field, inner.out)
    }

    mutating func message(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        body(&inner)
        bytes(field, inner.out)
    }
}

import Foundation

/// The summaries of TensorBoard's HParams plugin (tensorboard/plugins/hparams/plugin_data.proto
/// and api.proto), which make its dashboard list each run as a session with its
/// hyperparameters and final metrics.
///
/// Each is a `Summary.Value` whose `metadata.plugin_data` names the plugin `hparams` and holds
/// an `HParamsPluginData` message (version 0) in `content`, with an empty float tensor as its
/// value, as the plugin's own `summary.py` writes them. Encoded by hand with `ProtoWriter`, for
/// the reason `TensorBoardEvent` gives; checked in the tests by the plugin's own parsers
/// (`metadata.parse_*_plugin_data`) and its session-group handler.
public enum HParamsSummary {
    /// A hyperparameter's value: TensorBoard shows numbers on an interval axis, strings as
    /// categories.
    public enum Value: Equatable {
        case number(Double)
        case string(String)
    }

    /// A session's status (`tensorboard.hparams.Status`).
    public enum Status: UInt64 {
        case success = 1, failure = 2, running = 3
    }

    public static let pluginName = "hparams"
    public static let experimentTag = "_hparams_/experiment"
    public static let sessionStartTag = "_hparams_/session_start_info"
    public static let sessionEndTag = "_hparams_/session_end_info"

    /// The `Experiment` (field 2 of `HParamsPluginData`): the hyperparameters by name and type
    /// (`DATA_TYPE_STRING` 1, `DATA_TYPE_FLOAT64` 3) and the metrics as (group "", tag): scalars
    /// of the session's own run. The dashboard reads the experiment of the first run that has
    /// one, so every run writes the same. It lists hyperparameters marked `differs` (7) first,
    /// then by name, and shows the first five: every one but those in `secondary` is marked.
    public static func experiment(
        hparams: [(name: String, value: Value)], secondary: Set<String> = [], metrics: [String], time: Double
    ) -> [UInt8] {
        pluginData(field: 2) { e in
            e.double(3, time)
            for h in hparams {
                e.message(4) {
                    $0.bytes(1, Array(h.name.utf8))
                    $0.varint(4, h.value.isNumber ? 3 : 1)
                    if !secondary.contains(h.name) { $0.varint(7, 1) }
                }
            }
            for m in metrics {
                e.message(5) { info in
                    info.message(1) { $0.bytes(2, Array(m.utf8)) }
                    info.bytes(3, Array(m.utf8))
                }
            }
        }
    }

    /// A `SessionStartInfo` (field 3): the map `hparams` (entries: key 1, `google.protobuf.Value`
    /// 2 with `number_value` 2 or `string_value` 3) and `start_time_secs` (5).
    public static func sessionStart(hparams: [(name: String, value: Value)], time: Double) -> [UInt8] {
        pluginData(field: 3) { s in
            for h in hparams {
                s.message(1) { entry in
                    entry.bytes(1, Array(h.name.utf8))
                    entry.message(2) {
                        switch h.value {
                        case .number(let x): $0.double(2, x)
                        case .string(let t): $0.bytes(3, Array(t.utf8))
                        }
                    }
                }
            }
            s.double(5, time)
        }
    }

    /// A `SessionEndInfo` (field 4): `status` (1) and `end_time_secs` (2).
    public static func sessionEnd(_ status: Status, time: Double) -> [UInt8] {
        pluginData(field: 4) {
            $0.varint(1, status.rawValue)
            $0.double(2, time)
        }
    }

    /// `HParamsPluginData` with its version 0 (the default, so not written) and one field of
    /// its `data` oneof.
    static func pluginData(field: Int, _ body: (inout ProtoWriter) -> Void) -> [UInt8] {
        var w = ProtoWriter()
        w.message(field, body)
        return w.out
    }
}

extension HParamsSummary.Value {
    var isNumber: Bool {
        if case .number = self { return true }
        return false
    }
}

import Foundation

/// Finds a key that occurs twice in one JSON object.
///
/// Foundation's `JSONSerialization` and `JSONDecoder` both keep the last of two equal keys
/// without a word, so `{"epochs": 2, "epochs": 20}` would silently train 20 epochs. Neither
/// exposes its tokens, so this is a small scan of the raw bytes, run after `JSONSerialization`
/// has accepted them (the input is well-formed JSON, which keeps the scanner simple: it only
/// tracks strings, nesting and commas). A full tokenizer or a third-party parser would be more
/// code for the same answer. Keys are compared after unescaping (`"a"` and `"\u0061"` collide).
public enum DuplicateKeys {
    /// The JSON path of the first key that repeats within its object (`training.epochs`,
    /// `model.layers[1].units`), or nil. `bytes` must be valid JSON.
    public static func first(in bytes: Data) -> String? {
        struct Frame {
            var path: String
            var isObject: Bool
            var keys = Set<String>()
            var expectingKey = true
            var index = 0
            var lastKey = ""
        }
        var stack: [Frame] = []
        func childPath() -> String {
            guard let top = stack.last else { return "" }
            return top.isObject ? child(top.path, top.lastKey) : "\(top.path)[\(top.index)]"
        }
        let b = [UInt8](bytes)
        var i = 0
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"):
                stack.append(Frame(path: childPath(), isObject: true))
            case UInt8(ascii: "["):
                stack.append(Frame(path: childPath(), isObject: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
            case UInt8(ascii: ","):
                if stack.last?.isObject == true {
                    stack[stack.count - 1].expectingKey = true
                } else if !stack.isEmpty {
                    stack[stack.count - 1].index += 1
                }
            case UInt8(ascii: "\""):
                let start = i
                var escaped = false
                i += 1
                while i < b.count && b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") { escaped = true; i += 1 }
                    i += 1
                }
                if let top = stack.last, top.isObject, top.expectingKey {
                    let raw = Data(b[start...min(i, b.count - 1)])
                    let key =
                        escaped
                        ? (try? JSONSerialization.jsonObject(with: raw, options: [.fragmentsAllowed])) as? String
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    let name = key ?? String(decoding: raw, as: UTF8.self)
                    if top.keys.contains(name) { return child(top.path, name) }
                    stack[stack.count - 1].keys.insert(name)
                    stack[stack.count - 1].lastKey = name
                    stack[stack.count - 1].expectingKey = false
                }
            default:
                break
            }
            i += 1
        }
        return nil
    }
}

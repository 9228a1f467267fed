import Foundation

extension ConfigLoader {
    /// The first key (in sorted key order, depth first; list entries as `key[i]`) at which two
    /// JSON documents differ, with both values as compact JSON (`absent` for a missing key); nil
    /// when they are equal. Leaves compare as JSONSerialization writes them, so both documents
    /// should come from one writer (`canonicalJSON`).
    public static func firstDifference(_ a: Data, _ b: Data) throws -> (key: String, a: String, b: String)? {
        let x = try JSONSerialization.jsonObject(with: a, options: [.fragmentsAllowed])
        let y = try JSONSerialization.jsonObject(with: b, options: [.fragmentsAllowed])
        return difference(x, y, at: "")
    }

    static func difference(_ x: Any?, _ y: Any?, at key: String) -> (key: String, a: String, b: String)? {
        switch (x, y) {
        case (let dx as [String: Any], let dy as [String: Any]):
            for k in Set(dx.keys).union(dy.keys).sorted() {
                if let d = difference(dx[k], dy[k], at: key.isEmpty ? k : "\(key).\(k)") { return d }
            }
            return nil
        case (let lx as [Any], let ly as [Any]):
            for i in 0..<max(lx.count, ly.count) {
                if let d = difference(i < lx.count ? lx[i] : nil, i < ly.count ? ly[i] : nil, at: "\(key)[\(i)]") { return d }
            }
            return nil
        default:
            return jsonText(x) == jsonText(y) ? nil : (key, jsonText(x), jsonText(y))
        }
    }

    /// A value as compact JSON; `absent` for none.
    static func jsonText(_ value: Any?) -> String {
        guard let value else { return "absent" }
        let options: JSONSerialization.WritingOptions = [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }
}

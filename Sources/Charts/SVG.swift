import Foundation

/// A few helpers that write SVG and HTML text: escaping, attributes, numbers, path data.
///
/// The report writes its SVG by hand instead of through a package: the one HTML package on the
/// machine (JohnSundell/Plot 0.14.0) builds HTML documents but has no SVG or chart primitives,
/// so it would wrap strings this file writes anyway, and a page of a dozen tags does not need a
/// DSL. No package does scales, ticks and marks for server-side Swift.
package enum SVG {
    /// `s` with `&`, `<`, `>`, `"` and `'` escaped for text and attribute values.
    package static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A pixel coordinate with at most one decimal (keeps the file small).
    package static func num(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// `<name attrs>content</name>`, or `<name attrs/>` without content; attribute values escaped.
    package static func tag(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], _ content: String? = nil) -> String {
        var s = "<\(name)"
        for (k, v) in attributes { s += " \(k)=\"\(escape(v))\"" }
        guard let content else { return s + "/>" }
        return s + ">\(content)</\(name)>"
    }

    /// Path data through `points` ("M x y L x y ..."), starting a new subpath after a NaN.
    package static func pathData(_ points: [(Double, Double)]) -> String {
        var d = "", pen = false
        for (x, y) in points {
            guard x.isFinite, y.isFinite else {
                pen = false
                continue
            }
            d += "\(pen ? "L" : "M")\(num(x)) \(num(y))"
            pen = true
        }
        return d
    }

    /// Text at (x, y), escaped; `anchor` start, middle or end.
    package static func text(_ s: String, x: Double, y: Double, anchor: String = "start", size: Int = 12, extra: String = "") -> String {
        "<text x=\"\(num(x))\" y=\"\(num(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\"\(extra)>\(escape(s))</text>"
    }

    /// An estimate of the rendered width of `s` in a sans-serif font of `size` px (about 0.56 em
    /// per character), used to lay out legends and margins without a font engine.
    package static func textWidth(_ s: String, size: Int = 12) -> Double {
        Double(s.count) * Double(size) * 0.56
    }
}

/// The report's categorical colours: Okabe-Ito (readable by colour-blind readers) without its
/// pale yellow, then four of Paul Tol's muted scheme, so a 12-arm comparison repeats no colour.
package enum Palette {
    package static let colors = [
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999",
        "#882255", "#44AA99", "#332288", "#999933",
    ]

    /// The i-th colour, cycling.
    package static func color(_ i: Int) -> String { colors[((i % colors.count) + colors.count) % colors.count] }
}

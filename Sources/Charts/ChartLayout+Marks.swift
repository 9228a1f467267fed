import Foundation

extension ChartLayout {
    /// The SVG of one mark, in pixel coordinates.
    /// `coincidentDash`: the dash pattern of a line drawn over an earlier one (`coincident`).
    package func draw(_ mark: Mark, coincidentDash: String? = nil) -> String {
        switch mark {
        case .line(let p, let color, let width, let dashed, let opacity):
            // A series with one point (a run evaluated once) has no line to draw: a dot instead.
            let finite = p.filter { $0.0.isFinite && $0.1.isFinite }
            if finite.count == 1 { return draw(.dots(points: finite, color: color, radius: 3.5, cross: false)) }
            let d = SVG.pathData(p.map { (xs($0.0), ys($0.1)) })
            guard !d.isEmpty else { return "" }
            return SVG.tag(
                "path",
                [
                    "d": d, "fill": "none", "stroke": color, "stroke-width": SVG.num(width), "stroke-opacity": SVG.num(opacity),
                    "stroke-dasharray": coincidentDash ?? (dashed ? "5 3" : "none"), "stroke-linejoin": "round",
                ])
        case .band(let p, let color):
            let pts = p.filter { $0.x.isFinite && $0.lo.isFinite && $0.hi.isFinite }
            guard pts.count > 1 else { return "" }
            let d = SVG.pathData(pts.map { (xs($0.x), ys($0.hi)) } + pts.reversed().map { (xs($0.x), ys($0.lo)) }) + "Z"
            return SVG.tag("path", ["d": d, "fill": color, "fill-opacity": "0.2", "stroke": "none"])
        case .dots(let p, let color, let radius, let cross):
            return p.filter { $0.0.isFinite && $0.1.isFinite }.map { pt in
                cross
                    ? SVG.tag("path", ["d": ChartLayout.crossPath(xs(pt.0), ys(pt.1), radius), "stroke": color, "stroke-width": "1.6"])
                    : SVG.tag(
                        "circle",
                        ["cx": SVG.num(xs(pt.0)), "cy": SVG.num(ys(pt.1)), "r": SVG.num(radius), "fill": color, "fill-opacity": "0.8"])
            }.joined()
        case .rule(let x, let label):
            let r = plotRect, px = xs(x)
            return SVG.tag(
                "path", ["d": "M\(SVG.num(px)) \(SVG.num(r.y))V\(SVG.num(r.y + r.h))", "stroke": "#777", "stroke-dasharray": "3 3"])
                + SVG.text(label, x: px + 3, y: r.y + 12, size: 10, extra: " fill=\"#555\"")
        case .interval(let row, let lo, let mid, let hi, let color):
            let y = ys(Double(row))
            return SVG.tag(
                "path",
                [
                    "d":
                        "M\(SVG.num(xs(lo))) \(SVG.num(y))H\(SVG.num(xs(hi)))M\(SVG.num(xs(lo))) \(SVG.num(y - 5))v10M\(SVG.num(xs(hi))) \(SVG.num(y - 5))v10",
                    "stroke": color, "stroke-width": "2",
                ])
                + SVG.tag("rect", ["x": SVG.num(xs(mid) - 4), "y": SVG.num(y - 4), "width": "8", "height": "8", "fill": color])
        }
    }
}

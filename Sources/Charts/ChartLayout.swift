import Foundation

/// A chart's pixel geometry: margins, plot area, scales and legend rows, and the SVG of each part.
package struct ChartLayout {
    package let chart: Chart
    package let left: Double, top: Double, right: Double, bottom: Double
    package let xs: LinearScale, ys: LinearScale
    package let legendRows: [[(entry: LegendEntry, x: Double)]]
    /// The dash pattern of each line mark (by index in `chart.marks`) drawn over an earlier line
    /// it coincides with, so both stay visible (`coincidentLines`).
    package let coincident: [Int: String]
    /// The chart's legend, with the swatch of a line drawn dashed over another dashed too.
    package let legendEntries: [LegendEntry]
    /// Pixels between the plot frame and the ends of the value scales: a point at a domain's
    /// edge is drawn inside the frame, not on it.
    package static let inset = 8.0
    package static let dashPatterns = ["6 4", "2 3", "10 3 2 3"]
    /// About how many ticks each axis gets (fewer on a narrow axis, so labels never overlap).
    package let xTicks: Int, yTicks: Int
    package static let tickCount = 6
    package static let legendRowHeight = 18.0

    package init(_ chart: Chart) {
        self.chart = chart
        let ext = chart.extents()
        func derived(_ e: (Double, Double)?, _ unit: AxisUnit) -> (Double, Double) {
            let (lo, hi) = e ?? (0, 1)
            return LinearScale.nice(unit.fromZero ? min(0, lo) : lo, unit.fromZero ? max(0, hi) : hi, count: ChartLayout.tickCount)
        }
        let xd = chart.xDomain ?? derived(ext.x, chart.x)
        var yd: (Double, Double)
        if let c = chart.categories {
            yd = (-0.5, Double(c.count) - 0.5)
        } else {
            yd = chart.yDomain ?? derived(ext.y, chart.y)
        }
        let probe = LinearScale(domain: yd, range: (0, 1))
        let yLabelWidth =
            chart.categories.map { $0.map { SVG.textWidth($0) }.max() ?? 0 }
            ?? probe.ticks(count: ChartLayout.tickCount).map { SVG.textWidth(probe.label($0, count: ChartLayout.tickCount)) }.max() ?? 20
        left = yLabelWidth + (chart.categories == nil ? 30 : 12)
        top = chart.title == nil ? 12 : 28
        right = 18
        bottom = 46
        let plotBottom = chart.height - bottom
        let inset = ChartLayout.inset
        xs = LinearScale(domain: xd, range: (left + inset, chart.width - right - inset))
        xTicks = ChartLayout.fittingTicks(xs)
        yTicks = max(3, min(ChartLayout.tickCount, Int((plotBottom - top) / 36)))
        // categories run top to bottom, values bottom to top
        ys =
            chart.categories == nil
            ? LinearScale(domain: yd, range: (plotBottom - inset, top + inset)) : LinearScale(domain: yd, range: (top, plotBottom))
        coincident = ChartLayout.coincidentLines(chart.marks, xs: xs, ys: ys)
        let dashedColors = Set(
            coincident.keys.compactMap { i -> String? in
                if case .line(_, let color, _, _, _) = chart.marks[i] { return color }
                return nil
            })
        let legend = chart.legend.map { e in
            dashedColors.contains(e.color) && e.swatch == .line ? LegendEntry(name: e.name, color: e.color, swatch: .dashed) : e
        }
        legendEntries = legend
        legendRows = ChartLayout.rows(legend, from: left, width: chart.width - left - right)
    }

    /// Line marks drawn over an earlier line they coincide with, each with a dash pattern: line j
    /// coincides with an earlier solid line i when at least 3 of j's points lie within i's x span
    /// and 80% of those are within 1.5 px of i's polyline (linear between i's points). Dense and
    /// Han trained from one seed share their curve until Han prunes: Han's line is then dashed
    /// and the dense line shows through the gaps.
    package static func coincidentLines(_ marks: [Mark], xs: LinearScale, ys: LinearScale) -> [Int: String] {
        var drawn: [[(Double, Double)]] = [], out: [Int: String] = [:]
        for (j, m) in marks.enumerated() {
            guard case .line(let p, _, _, let dashed, _) = m, !dashed else { continue }
            let px = p.filter { $0.0.isFinite && $0.1.isFinite }.map { (xs($0.0), ys($0.1)) }.sorted { $0.0 < $1.0 }
            guard px.count >= 2 else { continue }
            let covered = drawn.filter { near(px, $0) }.count
            if covered > 0 { out[j] = dashPatterns[(covered - 1) % dashPatterns.count] }
            drawn.append(px)
        }
        return out
    }

    /// Whether `line` runs within 1.5 px of `under` over `under`'s x span (see `coincidentLines`).
    static func near(_ line: [(Double, Double)], _ under: [(Double, Double)]) -> Bool {
        guard let lo = under.first?.0, let hi = under.last?.0 else { return false }
        let inside = line.filter { $0.0 >= lo - 0.5 && $0.0 <= hi + 0.5 }
        guard inside.count >= 3 else { return false }
        let close = inside.filter { pt in
            guard let k = under.firstIndex(where: { $0.0 >= pt.0 - 1e-9 }) else { return false }
            let b = under[k], a = k > 0 ? under[k - 1] : b
            let y = b.0 - a.0 > 1e-9 ? a.1 + (b.1 - a.1) * (pt.0 - a.0) / (b.0 - a.0) : b.1
            return abs(pt.1 - y) <= 1.5
        }.count
        return Double(close) >= 0.8 * Double(inside.count)
    }

    /// The largest tick count (6 down to 2) whose labels, each with 12 px of space, fit the axis.
    package static func fittingTicks(_ scale: LinearScale) -> Int {
        let width = abs(scale.range.hi - scale.range.lo)
        for n in stride(from: tickCount, through: 2, by: -1) {
            let labels = scale.ticks(count: n).map { SVG.textWidth(scale.label($0, count: n)) + 12 }
            if labels.count <= 1 || (labels.max() ?? 0) * Double(labels.count) <= width { return n }
        }
        return 2
    }

    /// Legend entries packed into rows no wider than `width`.
    package static func rows(_ entries: [LegendEntry], from x0: Double, width: Double) -> [[(entry: LegendEntry, x: Double)]] {
        var rows: [[(entry: LegendEntry, x: Double)]] = [], row: [(entry: LegendEntry, x: Double)] = []
        var x = x0
        for e in entries {
            let w = 26 + SVG.textWidth(e.name) + 14
            if !row.isEmpty && x + w > x0 + width {
                rows.append(row)
                row = []
                x = x0
            }
            row.append((e, x))
            x += w
        }
        if !row.isEmpty { rows.append(row) }
        return rows
    }

    package var totalHeight: Double { chart.height + Double(legendRows.count) * ChartLayout.legendRowHeight + (legendRows.isEmpty ? 0 : 4) }
    package var plotRect: (x: Double, y: Double, w: Double, h: Double) {
        (left, top, chart.width - left - right, chart.height - bottom - top)
    }

    /// Background, the clip path and the title.
    package func frame(id: String) -> String {
        let r = plotRect
        var s = SVG.tag("rect", ["width": SVG.num(chart.width), "height": SVG.num(totalHeight), "fill": "#ffffff"])
        s +=
            "<defs><clipPath id=\"\(id)\">"
            + SVG.tag("rect", ["x": SVG.num(r.x), "y": SVG.num(r.y), "width": SVG.num(r.w), "height": SVG.num(r.h)])
            + "</clipPath></defs>"
        if let t = chart.title { s += SVG.text(t, x: r.x, y: 17, size: 13, extra: " font-weight=\"bold\"") }
        return s
    }

    /// Grid lines, ticks, tick labels, axis lines and titles.
    package func axes() -> String {
        let r = plotRect, n = xTicks
        var s = ""
        for (t, label) in chart.xTickLabels ?? xs.ticks(count: n).map({ ($0, xs.label($0, count: n)) }) {
            let px = xs(t)
            s += SVG.tag("line", ["x1": SVG.num(px), "x2": SVG.num(px), "y1": SVG.num(r.y), "y2": SVG.num(r.y + r.h), "stroke": "#e6e6e6"])
            s += SVG.text(label, x: px, y: r.y + r.h + 16, anchor: "middle")
        }
        if let cats = chart.categories {
            for (i, c) in cats.enumerated() { s += SVG.text(c, x: r.x - 8, y: ys(Double(i)) + 4, anchor: "end") }
        } else {
            for t in ys.ticks(count: yTicks) {
                let py = ys(t)
                s += SVG.tag(
                    "line", ["x1": SVG.num(r.x), "x2": SVG.num(r.x + r.w), "y1": SVG.num(py), "y2": SVG.num(py), "stroke": "#e6e6e6"])
                s += SVG.text(ys.label(t, count: yTicks), x: r.x - 6, y: py + 4, anchor: "end")
            }
            let mid = r.y + r.h / 2
            s += SVG.text(chart.y.title, x: 14, y: mid, anchor: "middle", extra: " transform=\"rotate(-90 14 \(SVG.num(mid)))\"")
        }
        s += SVG.tag(
            "rect", ["x": SVG.num(r.x), "y": SVG.num(r.y), "width": SVG.num(r.w), "height": SVG.num(r.h), "fill": "none", "stroke": "#444"])
        s += SVG.text(chart.x.title, x: r.x + r.w / 2, y: r.y + r.h + 36, anchor: "middle")
        return s
    }

    /// A legend alone, as an `<svg>` of `width` px (a figure's panels sharing one legend).
    package static func legendStrip(_ entries: [LegendEntry], width: Double) -> String {
        let rows = ChartLayout.rows(entries, from: 60, width: width - 70)
        let h = Double(rows.count) * legendRowHeight + 8
        var s = ""
        for (i, row) in rows.enumerated() {
            let y = Double(i) * legendRowHeight + 12
            for (e, x) in row { s += swatch(e, x: x, y: y) + SVG.text(e.name, x: x + 26, y: y + 4) }
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(h))\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">" + s + "</svg>"
    }

    /// The legend rows under the x axis title.
    package func legend() -> String {
        var s = ""
        for (i, row) in legendRows.enumerated() {
            let y = chart.height + Double(i) * ChartLayout.legendRowHeight + 8
            for (e, x) in row {
                s += ChartLayout.swatch(e, x: x, y: y)
                s += SVG.text(e.name, x: x + 26, y: y + 4)
            }
        }
        return s
    }

    package static func swatch(_ e: LegendEntry, x: Double, y: Double) -> String {
        switch e.swatch {
        case .line, .dashed:
            return SVG.tag(
                "path",
                [
                    "d": "M\(SVG.num(x)) \(SVG.num(y))h20", "stroke": e.color, "stroke-width": "2.5",
                    "stroke-dasharray": e.swatch == .dashed ? "5 3" : "none",
                ])
        case .band:
            return SVG.tag(
                "rect", ["x": SVG.num(x), "y": SVG.num(y - 6), "width": "20", "height": "12", "fill": e.color, "fill-opacity": "0.25"])
        case .dot:
            return SVG.tag("circle", ["cx": SVG.num(x + 10), "cy": SVG.num(y), "r": "4", "fill": e.color])
        case .cross:
            return SVG.tag("path", ["d": crossPath(x + 10, y, 4), "stroke": e.color, "stroke-width": "2"])
        }
    }

    package static func crossPath(_ x: Double, _ y: Double, _ r: Double) -> String {
        "M\(SVG.num(x - r)) \(SVG.num(y - r))L\(SVG.num(x + r)) \(SVG.num(y + r))M\(SVG.num(x - r)) \(SVG.num(y + r))L\(SVG.num(x + r)) \(SVG.num(y - r))"
    }
}

import Foundation

/// One thing drawn inside a chart's plot area, in shown units (see `AxisUnit.factor`).
package enum Mark {
    /// A polyline; NaN points break it.
    case line(points: [(Double, Double)], color: String, width: Double = 1.8, dashed: Bool = false, opacity: Double = 1)
    /// A filled band between `lo` and `hi` along x (a spread over seeds).
    case band(points: [(x: Double, lo: Double, hi: Double)], color: String)
    /// Dots (`cross` draws an x, for a pruning moment).
    case dots(points: [(Double, Double)], color: String, radius: Double = 3, cross: Bool = false)
    /// A dashed vertical line across the plot at x, with a short label at its top.
    case rule(x: Double, label: String)
    /// A horizontal interval with its centre (a forest plot row) at category row `row`.
    case interval(row: Int, lo: Double, mid: Double, hi: Double, color: String)
}

/// A legend entry: the name and how its swatch is drawn.
package struct LegendEntry {
    package enum Swatch { case line, dashed, band, dot, cross }
    package var name: String
    package var color: String
    package var swatch: Swatch = .line

    package init(name: String, color: String, swatch: Swatch = .line) {
        self.name = name
        self.color = color
        self.swatch = swatch
    }
}

/// A chart: two linear axes with nice ticks and titles, marks clipped to the plot area, and a
/// legend laid out in rows under the plot so it never covers data.
///
/// With `categories`, the y axis is categorical (forest plots): row i sits at y = i, labelled
/// with `categories[i]`, top to bottom. Domains not given are taken from the marks and widened
/// to nice ticks.
package struct Chart {
    package var x: AxisUnit
    package var y: AxisUnit
    package var marks: [Mark] = []
    package var legend: [LegendEntry] = []
    package var xDomain: (Double, Double)?
    package var yDomain: (Double, Double)?
    package var categories: [String]?
    /// Tick positions and labels of the x axis, replacing the linear ticks (a transformed axis).
    package var xTickLabels: [(value: Double, label: String)]?
    package var title: String?
    package var width = 560.0
    package var height = 300.0

    package init(
        x: AxisUnit, y: AxisUnit, marks: [Mark] = [], legend: [LegendEntry] = [], xDomain: (Double, Double)? = nil,
        yDomain: (Double, Double)? = nil, categories: [String]? = nil,
        xTickLabels: [(value: Double, label: String)]? = nil, title: String? = nil, width: Double = 560,
        height: Double = 300
    ) {
        self.x = x
        self.y = y
        self.marks = marks
        self.legend = legend
        self.xDomain = xDomain
        self.yDomain = yDomain
        self.categories = categories
        self.xTickLabels = xTickLabels
        self.title = title
        self.width = width
        self.height = height
    }

    /// The chart as an `<svg>` element; `id` makes its clip path unique on the page.
    package func svg(id: String) -> String {
        let layout = ChartLayout(self)
        var body = layout.frame(id: id)
        body +=
            "<g clip-path=\"url(#\(id))\">" + marks.enumerated().map { layout.draw($1, coincidentDash: layout.coincident[$0]) }.joined()
            + "</g>"
        body += layout.axes()
        body += layout.legend()
        let w = SVG.num(width), h = SVG.num(layout.totalHeight)
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">" + body + "</svg>"
    }
}

extension Chart {
    /// The x and y extents of the marks (nil when there are none).
    package func extents() -> (x: (Double, Double)?, y: (Double, Double)?) {
        var xs: [Double] = [], ys: [Double] = []
        for m in marks {
            switch m {
            case .line(let p, _, _, _, _), .dots(let p, _, _, _):
                xs += p.map(\.0)
                ys += p.map(\.1)
            case .band(let p, _):
                xs += p.map(\.x)
                ys += p.map(\.lo) + p.map(\.hi)
            case .rule(let x, _): xs.append(x)
            case .interval(_, let lo, let mid, let hi, _): xs += [lo, mid, hi]
            }
        }
        func span(_ v: [Double]) -> (Double, Double)? {
            let f = v.filter(\.isFinite)
            guard let lo = f.min(), let hi = f.max() else { return nil }
            return (lo, hi)
        }
        return (span(xs), span(ys))
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// `prunelab report`: one self-contained HTML page (inline SVG and CSS, no scripts, fonts or
/// network) with the figures and tables of a run folder, a compare folder or any folder holding
/// run folders at any depth (a sweep).
///
/// Runs are grouped by arm (summary `label`, else `method`) and seed. Each figure uses what the
/// run folders hold and is left out, with a note on the page, when no run has its data.
public enum Report {
    /// What was written.
    public struct Written: Sendable {
        public var path: String
        public var figures: Int
        public var runs: Int
    }

    /// Reads `paths` and writes the page to `out` (default: `report.html` in the first path)
    /// atomically, replacing only a file PruneLab wrote (`OutputFolder`). Throws `RunError` (one
    /// line) for a path that is not a folder, a folder without run folders or `comparison.csv`,
    /// an unreadable or ragged CSV, or an `out` that exists and is not PruneLab's.
    @discardableResult
    public static func write(paths: [String], out: String? = nil) throws -> Written {
        var input = try ReportInput(paths: paths)
        let url = URL(fileURLWithPath: out ?? input.roots[0].appendingPathComponent("report.html").path).standardizedFileURL
        input.pageFolder = url.deletingLastPathComponent()
        let (figures, notes) = ReportFigures.all(input)
        let html = page(input, figures: figures, notes: notes)
        try OutputFolder.write(Data(html.utf8), to: url)
        return Written(path: url.path, figures: figures.count, runs: input.runs.count)
    }

    static let style = """
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1180px}
        h1{font-size:22px}h2{font-size:17px;margin-top:28px}
        figure{margin:18px 0;padding:8px 0;border-top:1px solid #ddd}
        figure h3{font-size:15px;margin:4px 0}
        .charts{display:flex;flex-wrap:wrap;gap:8px}
        figcaption{font-size:13px;color:#444;max-width:1100px;margin-top:4px}
        table{border-collapse:collapse;font-size:13px;margin:12px 0}
        caption{text-align:left;font-size:13px;color:#444;padding-bottom:4px}
        th,td{border:1px solid #ccc;padding:3px 8px}td:not(:first-child){text-align:right}
        th{background:#f3f3f3}.notes{font-size:13px;color:#555}
        """

    static func page(_ input: ReportInput, figures: [ReportFigure], notes: [String]) -> String {
        let names = input.roots.map(\.lastPathComponent).joined(separator: ", ")
        var body = "<h1>PruneLab report: \(SVG.escape(names))</h1>"
        body += "<p>\(SVG.escape(intro(input)))</p>"
        body += [ReportTables.headline(input)].compactMap { $0 }.joined()
        for (i, f) in figures.enumerated() {
            let charts = charts(f.charts, figure: i)
            body += "<figure><h3>Figure \(i + 1). \(SVG.escape(f.title))</h3><div class=\"charts\">\(charts)</div>"
            body += "<figcaption>\(SVG.escape(f.caption))</figcaption></figure>"
        }
        let sweepTables = input.sweeps.compactMap(ReportTables.sweep)
        if !sweepTables.isEmpty { body += "<h2>Sweep curves</h2>" + sweepTables.joined() }
        let tables = [ReportTables.layers(input), ReportTables.sizes(input)].compactMap { $0 }
        if !tables.isEmpty { body += "<h2>Layers and model sizes</h2>" + tables.joined() }
        if !notes.isEmpty {
            body += "<h2>Not shown</h2><ul class=\"notes\">" + notes.map { "<li>\(SVG.escape($0))</li>" }.joined() + "</ul>"
        }
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PruneLab report: \(SVG.escape(names))</title>"
            + "<style>\(style)</style></head><body>\(body)</body></html>\n"
    }

    /// The SVG of a figure's charts; when every panel has the same legend, it is drawn once,
    /// full width, under the panels.
    static func charts(_ charts: [Chart], figure i: Int) -> String {
        let first = charts.first?.legend.map(\.name) ?? []
        let shared = charts.count > 1 && !first.isEmpty && charts.allSatisfy { $0.legend.map(\.name) == first }
        let svgs = charts.enumerated().map { j, c in
            var c = c
            if shared { c.legend = [] }
            return c.svg(id: "clip\(i)-\(j)")
        }.joined()
        return shared ? svgs + ChartLayout.legendStrip(ChartLayout(charts[0]).legendEntries, width: ReportFigures.wideWidth) : svgs
    }

    static func intro(_ input: ReportInput) -> String {
        let folders = input.roots.map { input.display(folder: $0) }.joined(separator: ", ")
        let arms = input.groups.map { "\($0.label) (\($0.runs.count) seed\($0.runs.count == 1 ? "" : "s"))" }.joined(separator: ", ")
        var parts: [String] = []
        if !input.runs.isEmpty || input.sweeps.isEmpty {
            parts.append(
                "From \(folders): \(input.runs.count) run folder\(input.runs.count == 1 ? "" : "s")"
                    + (arms.isEmpty ? "" : ", arms \(arms)"))
        }
        if let c = input.comparison { parts.append("comparison table \(input.display(c.file))") }
        for w in input.sweeps {
            let n = w.runs.runs.count
            var s = "sweep in \(input.display(folder: w.root)): \(n) completed point\(n == 1 ? "" : "s")"
            s += w.archived ? " (from its \(SweepRuns.tableName); the run folders are not here)" : ""
            s += w.runs.unfinished.isEmpty ? "" : " (\(w.runs.unfinished.count) not complete, left out)"
            parts.append(s)
        }
        let text = parts.joined(separator: "; ")
        return text.prefix(1).uppercased() + text.dropFirst() + ". Written by prunelab \(RunInfo.toolVersion)."
    }
}

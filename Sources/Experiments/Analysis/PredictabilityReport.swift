import Charts
import Foundation

/// `prunelab predictability`'s outputs over several runs (seeds): `predictability.csv` (every
/// row of every run), `predictability.md` (per layer, recall at chosen epochs, mean ± 95%
/// t-interval over runs, and each predictor's paired difference from `magnitude`) and one SVG
/// figure per layer (`predictability-<layer>.svg`: recall against epoch, a line per predictor
/// at the mean over runs, a band from the lowest to the highest run, chance `k / n` dashed).
public enum PredictabilityReport {
    /// One analysed run.
    public struct RunRows {
        public var run: String
        public var seed: UInt64
        public var rows: [Predictability.Row]

        public init(run: String, seed: UInt64, rows: [Predictability.Row]) {
            self.run = run
            self.seed = seed
            self.rows = rows
        }
    }

    /// The predictor every other is compared with.
    public static let reference = "magnitude"

    /// Every row of every run, with `run` and `seed` first.
    public static func csv(_ runs: [RunRows]) -> CSVTable {
        var t = CSVTable(columns: ["run", "seed"] + Predictability.columns)
        for r in runs {
            for row in r.rows {
                t.append([
                    .string(r.run), .int(Int(r.seed)), .int(row.step), .double(row.epoch), .string(row.layer),
                    .string(row.predictor), .int(row.weights), .int(row.kept), .double(row.recall), .double(row.spearman),
                ])
            }
        }
        return t
    }

    /// Per run, layer and predictor: the row nearest to `epoch` (the first such on a tie).
    static func nearest(_ rows: [Predictability.Row], layer: String, predictor: String, epoch: Double) -> Predictability.Row? {
        rows.filter { $0.layer == layer && $0.predictor == predictor }.min { abs($0.epoch - epoch) < abs($1.epoch - epoch) }
    }

    /// The Markdown tables: per layer, recall and Spearman at `epochs`, then the paired
    /// difference in recall from `magnitude`.
    public static func markdown(_ runs: [RunRows], epochs: [Double], title: String) -> String {
        guard let first = runs.first else { return "# \(title)\n\n_no runs_\n" }
        var layers: [String] = [], predictors: [String] = []
        for row in first.rows {
            if !layers.contains(row.layer) { layers.append(row.layer) }
            if !predictors.contains(row.predictor) { predictors.append(row.predictor) }
        }
        let header = "| predictor | " + epochs.map { "epoch \(label($0))" }.joined(separator: " | ") + " |\n"
        let rule = "|:--|" + epochs.map { _ in "--:|" }.joined() + "\n"
        var out = "# \(title)\n\n"
        out += "Runs: \(runs.map { "\($0.run) (seed \($0.seed))" }.joined(separator: ", ")).\n\n"
        for layer in layers {
            let sample = first.rows.first { $0.layer == layer }
            out += "## \(layer)\n\n"
            if let s = sample {
                out +=
                    "\(s.weights) weights analysed, final kept set \(s.kept) (chance recall \(fixed(Double(s.kept) / Double(max(1, s.weights)), 3))).\n\n"
            }
            for (metric, value) in [
                ("Recall of the final kept set", \Predictability.Row.recall), ("Spearman ρ with final |w|", \.spearman),
            ] {
                out += "**\(metric)**, mean ± 95% CI half-width over \(runs.count) runs:\n\n" + header + rule
                for p in predictors {
                    out +=
                        "| \(p) | "
                        + epochs.map { e in
                            cell(runs.compactMap { nearest($0.rows, layer: layer, predictor: p, epoch: e)?[keyPath: value] })
                        }.joined(separator: " | ") + " |\n"
                }
                out += "\n"
            }
            out += "**Recall minus \(reference)'s recall**, paired by run: mean [95% CI]:\n\n" + header + rule
            for p in predictors where p != reference {
                out +=
                    "| \(p) | "
                    + epochs.map { e in
                        let d = runs.compactMap { r -> Double? in
                            guard let a = nearest(r.rows, layer: layer, predictor: p, epoch: e),
                                let b = nearest(r.rows, layer: layer, predictor: reference, epoch: e)
                            else { return nil }
                            return a.recall - b.recall
                        }
                        return difference(d)
                    }.joined(separator: " | ") + " |\n"
            }
            out += "\n"
        }
        out += "The epoch columns take each run's record nearest to that epoch.\n"
        return out
    }

    /// One figure per layer: recall against epoch.
    public static func figures(_ runs: [RunRows]) -> [(layer: String, svg: String)] {
        guard let first = runs.first else { return [] }
        var layers: [String] = [], predictors: [String] = []
        for row in first.rows {
            if !layers.contains(row.layer) { layers.append(row.layer) }
            if !predictors.contains(row.predictor) { predictors.append(row.predictor) }
        }
        return layers.map { layer in
            var chart = Chart(x: AxisUnit(name: "epoch", unit: ""), y: AxisUnit(name: "recall of the final kept set", unit: ""))
            chart.title = "\(layer): which weights will survive, foretold at each epoch"
            for (i, p) in predictors.enumerated() {
                let series = runs.map { r in r.rows.filter { $0.layer == layer && $0.predictor == p } }
                guard let steps = series.first?.map(\.epoch) else { continue }
                var mean: [(Double, Double)] = [], band: [(x: Double, lo: Double, hi: Double)] = []
                for (k, x) in steps.enumerated() {
                    let ys = series.compactMap { k < $0.count ? $0[k].recall : nil }
                    guard !ys.isEmpty else { continue }
                    mean.append((x, Statistics.mean(ys)))
                    band.append((x, ys.min()!, ys.max()!))
                }
                let color = Palette.color(i)
                if runs.count > 1 { chart.marks.append(.band(points: band, color: color)) }
                chart.marks.append(.line(points: mean, color: color, dashed: i >= Palette.colors.count))
                chart.legend.append(LegendEntry(name: p, color: color))
            }
            if let s = first.rows.first(where: { $0.layer == layer }), let xs = first.rows.last.map(\.epoch) {
                let chance = Double(s.kept) / Double(max(1, s.weights))
                chart.marks.append(.line(points: [(0, chance), (xs, chance)], color: "#999999", width: 1, dashed: true))
                chart.legend.append(LegendEntry(name: "chance", color: "#999999", swatch: .dashed))
            }
            chart.yDomain = (0, 1)
            return (layer, chart.svg(id: "predictability-\(layer)"))
        }
    }

    /// Writes `predictability.csv`, `.md` and the figures into `dir` (created if missing),
    /// replacing only files PruneLab wrote there (`OutputFolder`); returns the paths.
    public static func write(_ runs: [RunRows], epochs: [Double], title: String, to dir: URL) throws -> [URL] {
        try prepare(dir)
        let folder = try OutputFolder(dir)
        defer { folder.release() }
        let figures = figures(runs)
        // every name is claimed before anything is written: a foreign file stops the command first
        let csvURL = try folder.claim("predictability.csv")
        let svgURLs = try figures.map { try folder.claim("predictability-\($0.layer).svg") }
        let mdURL = try folder.claim("predictability.md")
        try csv(runs).write(to: csvURL)
        var md = markdown(runs, epochs: epochs, title: title)
        for (f, url) in zip(figures, svgURLs) {
            try AtomicFile.write(Data(f.svg.utf8), to: url)
            md += "\n![\(f.layer)](\(url.lastPathComponent))\n"
        }
        try AtomicFile.write(Data(md.utf8), to: mdURL)
        return [csvURL] + svgURLs + [mdURL]
    }

    /// Creates the output folder `dir` if missing; a one-line error when that is impossible (a
    /// file of that name, no permission). Called before the analysis, so a bad `--out` costs nothing.
    public static func prepare(_ dir: URL) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RunError("\(dir.path): exists and is not a folder; give --out a folder") }
            return
        }
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw RunError("\(dir.path): cannot create the folder (\((error as NSError).localizedDescription))")
        }
    }

    static func label(_ e: Double) -> String { e == e.rounded() ? String(Int(e)) : String(format: "%.2g", e) }

    static func fixed(_ x: Double, _ d: Int) -> String { String(format: "%.\(d)f", x) }

    /// `mean ± half-width` of the 95% t-interval (the mean alone for one value).
    static func cell(_ xs: [Double]) -> String {
        guard !xs.isEmpty else { return "—" }
        let m = Statistics.mean(xs)
        guard xs.count > 1 else { return fixed(m, 3) }
        let half =
            Statistics.tQuantile975(degreesOfFreedom: xs.count - 1) * Statistics.standardDeviation(xs) / Double(xs.count).squareRoot()
        return "\(fixed(m, 3)) ± \(fixed(half, 3))"
    }

    /// `+mean [lo, hi]` of the paired differences' 95% t-interval.
    static func difference(_ d: [Double]) -> String {
        guard !d.isEmpty else { return "—" }
        let m = Statistics.mean(d)
        guard d.count > 1 else { return String(format: "%+.3f", m) }
        let half = Statistics.tQuantile975(degreesOfFreedom: d.count - 1) * Statistics.standardDeviation(d) / Double(d.count).squareRoot()
        return String(format: "%+.3f [%+.3f, %+.3f]", m, m - half, m + half)
    }
}

import Charts
import Experiments
import Foundation
import Sweeps

/// The report's HTML tables: headline numbers per arm, per-layer weights/FLOPs/nonzeros, model
/// sizes on disk.
enum ReportTables {
    /// An HTML table with a header row; cells are escaped; columns after the first are right-aligned.
    static func html(_ header: [String], _ rows: [[String]], caption: String) -> String {
        var s = "<table><caption>\(SVG.escape(caption))</caption><thead><tr>"
        s += header.map { "<th>\(SVG.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in rows { s += "<tr>" + r.map { "<td>\(SVG.escape($0))</td>" }.joined() + "</tr>" }
        return s + "</tbody></table>"
    }

    static func fixed(_ x: Double?, _ decimals: Int, scale: Double = 1) -> String {
        guard let x, x.isFinite else { return "—" }
        return String(format: "%.\(decimals)f", x * scale)
    }

    /// "mean ± sd" over the group's seeds (just the value for one seed).
    static func meanSD(_ g: ReportGroup, _ column: String, _ decimals: Int, scale: Double = 1) -> String {
        let xs = g.runs.compactMap { $0.number(column) }.filter(\.isFinite)
        guard !xs.isEmpty else { return "—" }
        let m = fixed(Statistics.mean(xs), decimals, scale: scale)
        return xs.count == 1 ? m : "\(m) ± \(fixed(Statistics.standardDeviation(xs), decimals, scale: scale))"
    }

    static func headline(_ input: ReportInput) -> String? {
        guard !input.groups.isEmpty else { return nil }
        // time split into training, evaluation and analysis, in summaries that have it
        let timing = ["train_seconds", "eval_seconds", "analysis_seconds"].filter { c in input.runs.contains { $0.number(c) != nil } }
        // costs against the dense and Han arms of the same seed, where the report holds them
        let references = ["dense", "han"].compactMap { l in input.groups.first { $0.label == l } }
        let rows = input.groups.map { g -> [String] in
            let ratios = references.flatMap { ref in
                ["train_flops", "wall_seconds"].map { c in ratioCell(g, ref, c) }
            }
            return [
                g.label, g.seeds.map(String.init).joined(separator: ","), meanSD(g, "test_accuracy", 2, scale: 100),
                meanSD(g, "sparsity", 2, scale: 100), meanSD(g, "train_flops", 1, scale: 1e-9), meanSD(g, "wall_seconds", 1),
            ] + ratios + timing.map { meanSD(g, $0, 1) }
        }
        let ratioHeads = references.flatMap { ref in ["FLOPs ÷ \(ref.label) arm", "seconds ÷ \(ref.label) arm"] }
        return html(
            ["arm", "seeds", "test accuracy (%)", "sparsity (%)", "training GFLOP", "wall time (s)"] + ratioHeads
                + timing.map { $0.replacingOccurrences(of: "_seconds", with: "") + " (s)" }, rows,
            caption:
                "Per arm: mean ± sample standard deviation over seeds, from each run's summary.csv. Ratios divide each run's "
                + "training FLOPs or wall seconds by those of the dense or Han arm's run of the same seed, then average over seeds.")
    }

    /// Mean over seeds of `column` in `g`'s run divided by the same seed's run of `ref` ("—" without pairs).
    static func ratioCell(_ g: ReportGroup, _ ref: ReportGroup, _ column: String) -> String {
        let r = g.runs.compactMap { run -> Double? in
            guard let a = run.number(column), let b = ref.runs.first(where: { $0.seed == run.seed })?.number(column), b > 0 else {
                return nil
            }
            return a / b
        }
        return r.isEmpty ? "—" : fixed(Statistics.mean(r), 3) + "x"
    }

    /// Arms whose rows (without the arm column) are identical, merged: one block of rows whose
    /// first cell names all of them.
    static func merged(_ blocks: [(label: String, rows: [[String]])]) -> [[String]] {
        var out: [(labels: [String], rows: [[String]])] = []
        for b in blocks where !b.rows.isEmpty {
            if let k = out.firstIndex(where: { $0.rows == b.rows }) {
                out[k].labels.append(b.label)
            } else {
                out.append(([b.label], b.rows))
            }
        }
        return out.flatMap { o in o.rows.map { [o.labels.joined(separator: ", ")] + $0 } }
    }

    static func layers(_ input: ReportInput) -> String? {
        let blocks = input.groups.map { g -> (label: String, rows: [[String]]) in
            guard let t = g.first.layers else { return (g.label, []) }
            return (
                g.label,
                t.rows.map { r in
                    let v = Dictionary(zip(t.header, r), uniquingKeysWith: { a, _ in a })
                    return [
                        v["layer"] ?? "", v["shape"] ?? "", v["weights"] ?? "", v["nonzero"] ?? "",
                        fixed(Double(v["sparsity"] ?? ""), 2, scale: 100), v["dense_flops"] ?? "", v["sparse_flops"] ?? "",
                    ]
                }
            )
        }
        let rows = merged(blocks)
        guard !rows.isEmpty else { return nil }
        return html(
            ["arm", "layer", "shape", "weights", "nonzero", "sparsity (%)", "dense FLOPs / sample", "sparse FLOPs / sample"], rows,
            caption: "Per layer at the end of training, seed \(input.groups[0].first.seed) of each arm, from layers.csv "
                + "(forward FLOPs per sample; a multiply-add counts 2); arms with identical rows share them.")
    }

    static func sizes(_ input: ReportInput) -> String? {
        guard !input.groups.isEmpty else { return nil }
        let kb = { (x: Int?) in x.map { String(format: "%.1f", Double($0) / 1000) } ?? "—" }
        let rows = merged(
            input.groups.map { g in (g.label, [[kb(g.first.fileSize("model.h5")), kb(g.first.fileSize("model-sparse.h5"))]]) })
        return html(
            ["arm", "model.h5 (kB)", "model-sparse.h5 (kB)"], rows,
            caption: "Sizes on disk of the model files of seed \(input.groups[0].first.seed) of each arm (1 kB = 1000 bytes; "
                + "summary.csv's dense_bytes and sparse_bytes): dense weights, biases and masks, and compressed rows with the "
                + "narrowest index types.")
    }

    /// A sweep's curve points: per method and requested sparsity, the achieved sparsity, test
    /// accuracy with its interval, the paired Δ against each baseline with its verdict, and the
    /// training cost (nil without a sparsity axis).
    static func sweep(_ s: ReportSweep) -> String? {
        guard let first = s.curves.first else { return nil }
        let pct = { (x: Double?) in fixed(x, 2, scale: 100) }
        let range = { (r: (lo: Double, hi: Double)?) in r.map { "[\(pct($0.lo)), \(pct($0.hi))]" } ?? "" }
        let rows = first.points.indices.map { i -> [String] in
            let p = first.points[i]
            var row =
                p.context + [p.label, p.requested, pct(p.sparsity.mean), String(p.accuracy.n), pct(p.accuracy.mean), range(p.accuracy.ci)]
            for c in s.curves where c.baseline != nil {
                let q = c.points[i]
                row +=
                    q.label == c.baseline
                    ? ["baseline", ""] : [q.accuracy.delta.map { String(format: "%+.2f", $0 * 100) } ?? "—", q.verdict?.rawValue ?? ""]
            }
            return row + [fixed(p.trainFlops.mean, 1, scale: 1e-9), fixed(p.wallSeconds.mean, 1)]
        }
        let header =
            first.contexts + ["method", "requested", "achieved sparsity (%)", "n", "test accuracy (%)", "95% CI"]
            + s.curves.compactMap(\.baseline).flatMap { ["Δ vs \($0) (points)", "vs \($0)"] } + ["training GFLOP", "wall s"]
        return html(
            header, rows,
            caption: "\(s.title): per method and requested sparsity, mean over seeds with the 95% t-interval; Δ = mean paired "
                + "difference from the baseline on the same seeds; better / worse when its 95% interval lies above / below 0, "
                + "tie otherwise. From "
                + (s.archived
                    ? "the \(SweepRuns.tableName) of the sweep, one row per completed point" : "the summary.csv of each completed point")
                + " (curve.csv of `prunelab aggregate`).")
    }
}

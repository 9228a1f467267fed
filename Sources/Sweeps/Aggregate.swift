import Experiments
import Foundation
import Schema

/// Per-group statistics of a sweep: `runs.csv`, `aggregate.csv`, `curve.csv` (with a sparsity
/// axis) and `aggregate.md`.
///
/// A group is a set of completed runs with equal axis values apart from `seed` (and the same
/// summary `label`). Per group and numeric summary column (`seed` aside) it gives n, the mean,
/// the sample standard deviation s (n − 1) and the 95% Student-t interval mean ± t₀.₉₇₅,ₙ₋₁·s/√n
/// (n ≥ 2). Against the baseline (the group labelled `baseline` with the same values on every
/// axis that does not choose the method — `arm`, `pruning.method`, `pruning.dynamic.criterion`,
/// `pruning.dynamic.schedule`, `pruning.structured.criterion` — or follow from it, see
/// `baselineGroup`) it gives the paired differences
/// dᵢ = xᵢ − baselineᵢ over the seeds both ran, Δ = mean(d) and Δ ± t₀.₉₇₅,ₚ₋₁·s_d/√p for p ≥ 2
/// pairs (Δ alone for one pair).
public enum Aggregate {
    /// Axes that choose the method; a baseline group may differ from a group only on these.
    package static let methodAxes: Set<String> = [
        "arm", "pruning.method", "pruning.dynamic.criterion", "pruning.dynamic.schedule", "pruning.structured.criterion",
    ]

    /// Metrics of the Markdown report, when present.
    package static let reportMetrics = ["test_accuracy", "sparsity", "train_flops", "wall_seconds"]

    /// Runs of one group.
    package struct Group {
        package var values: [String]
        package var label: String
        package var runs: [SweepRuns.Run]
    }

    /// One metric of one group.
    package struct Stats {
        package var n = 0, mean = Double.nan, std = Double.nan
        package var ci: (lo: Double, hi: Double)?
        package var baseline = "", pairs = 0
        package var delta: Double?
        package var deltaCI: (lo: Double, hi: Double)?
    }

    /// Writes the files into `dir` and returns their URLs. `baseline` nil: `han` when a run has
    /// that label, else none; a baseline no run has is an error.
    @discardableResult
    public static func write(dir: String, baseline: String? = nil) throws -> [URL] {
        let sweep = try SweepRuns.read(dir: dir)
        let labels = Set(sweep.runs.map(\.label))
        if let b = baseline, !labels.contains(b) {
            throw ConfigError(
                path: "--baseline", "no completed run has the label \"\(b)\"; labels: \(labels.sorted().joined(separator: ", "))")
        }
        let base = baseline ?? (labels.contains("han") ? "han" : nil)
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        let curve = curve(sweep, baseline: base)
        // every name is claimed before anything is written: a refused one leaves all as they were
        let folder = try OutputFolder(url)
        defer { folder.release() }
        let names = ["runs.csv", "aggregate.csv"] + (curve == nil ? [] : ["curve.csv"]) + ["aggregate.md"]
        let files = try names.map { try folder.claim($0) }
        try sweep.table.write(to: files[0])
        try table(sweep, baseline: base).write(to: files[1])
        if let curve { try curve.write(to: files[2]) }
        try AtomicFile.write(Data(markdown(sweep, baseline: base, title: url.lastPathComponent).utf8), to: files.last!)
        return files
    }

    package static func groupAxes(_ s: SweepRuns) -> [String] { s.axes.filter { $0 != "seed" } }

    /// The groups in order of first appearance in the plan.
    package static func groups(_ s: SweepRuns) -> [Group] {
        let keys = groupAxes(s)
        var out: [Group] = []
        for r in s.runs {
            let v = keys.map(r.axis)
            if let i = out.firstIndex(where: { $0.values == v && $0.label == r.label }) {
                out[i].runs.append(r)
            } else {
                out.append(Group(values: v, label: r.label, runs: [r]))
            }
        }
        return out
    }

    /// The group's baseline: labelled `baseline`, equal on the sparsity axes and on every axis
    /// that neither chooses the method nor follows from the method and the sparsity (see
    /// `contextAxes`: `training.epochs` zipped with `arm` gives each method its own budget).
    package static func baselineGroup(of g: Group, in all: [Group], axes: [String], baseline: String?) -> Group? {
        guard let baseline else { return nil }
        let fixed = contextAxes(all, axes: axes)
        return all.first { b in b.label == baseline && fixed.allSatisfy { b.values[$0] == g.values[$0] } }
    }

    /// The metric per seed (first finite value per seed), in run order.
    package static func sample(_ g: Group, _ metric: String) -> [(seed: String, value: Double)] {
        var out: [(seed: String, value: Double)] = []
        for r in g.runs {
            guard let v = r.number(metric), v.isFinite, !out.contains(where: { $0.seed == r.seed }) else { continue }
            out.append((r.seed, v))
        }
        return out
    }

    /// mean ± t₀.₉₇₅,ₙ₋₁ · s / √n, nil for fewer than two values.
    package static func interval(_ xs: [Double]) -> (lo: Double, hi: Double)? {
        guard xs.count >= 2 else { return nil }
        let half =
            Statistics.tQuantile975(degreesOfFreedom: xs.count - 1) * Statistics.standardDeviation(xs) / Double(xs.count).squareRoot()
        let m = Statistics.mean(xs)
        return (m - half, m + half)
    }

    package static func stats(_ g: Group, baseline b: Group?, metric: String) -> Stats {
        let xs = sample(g, metric)
        var s = Stats()
        s.n = xs.count
        if !xs.isEmpty {
            s.mean = Statistics.mean(xs.map(\.value))
            s.std = Statistics.standardDeviation(xs.map(\.value))
            s.ci = interval(xs.map(\.value))
        }
        guard let b, b.label != g.label || b.values != g.values else { return s }
        s.baseline = b.label
        let base = sample(b, metric)
        let d = xs.compactMap { x in base.first { $0.seed == x.seed }.map { x.value - $0.value } }
        s.pairs = d.count
        if !d.isEmpty { s.delta = Statistics.mean(d) }
        s.deltaCI = interval(d)
        return s
    }

    /// Numeric summary columns (every run's value parses as a number), `seed` aside.
    package static func metrics(_ s: SweepRuns) -> [String] {
        s.summaryColumns.filter { c in
            c != "seed" && s.runs.contains { $0.text(c) != nil }
                && s.runs.allSatisfy { r in r.text(c).map { Double($0) != nil || $0.isEmpty } ?? true }
        }
    }

    /// `aggregate.csv`: per group and metric, the statistics (long format).
    package static func table(_ s: SweepRuns, baseline: String?) -> CSVTable {
        let axes = groupAxes(s), all = groups(s)
        var t = CSVTable(
            columns: axes + [
                "label", "metric", "n", "mean", "std", "ci_low", "ci_high", "baseline", "delta", "delta_ci_low", "delta_ci_high", "pairs",
            ])
        for g in all {
            let b = baselineGroup(of: g, in: all, axes: axes, baseline: baseline)
            for m in metrics(s) {
                let st = stats(g, baseline: b, metric: m)
                let opt = { (x: Double?) -> CSVValue in x.map(CSVValue.double) ?? .string("") }
                t.append(
                    g.values.map(CSVValue.string) + [.string(g.label), .string(m), .int(st.n), .double(st.mean), .double(st.std)]
                        + [opt(st.ci?.lo), opt(st.ci?.hi), .string(st.baseline), opt(st.delta), opt(st.deltaCI?.lo), opt(st.deltaCI?.hi)]
                        + [st.baseline.isEmpty ? .string("") : .int(st.pairs)])
            }
        }
        return t
    }
}

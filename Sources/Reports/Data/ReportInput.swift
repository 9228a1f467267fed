import Charts
import Experiments
import Foundation
import Sweeps

/// The runs of one arm (summary `label`, else `method`) over its seeds, with the arm's colour.
struct ReportGroup {
    let label: String
    let runs: [ReportRun]
    let color: String

    var seeds: [Int] { runs.map(\.seed) }
    /// The run of the lowest seed (for figures that show one run of the arm).
    var first: ReportRun { runs[0] }
}

/// What `prunelab report` was given: the run folders found under the folders named (at any
/// depth), grouped by arm, and a compare folder's `comparison.csv`/`timing.csv` if there is one.
///
/// A folder is a run folder when it holds `summary.csv` and `run.json`; the search does not
/// descend into run folders or hidden folders. A folder with neither run folders nor a
/// `comparison.csv` is an error, as is a path that is not a folder.
struct ReportInput {
    let roots: [URL]
    let runs: [ReportRun]
    let groups: [ReportGroup]
    /// The folders given that are sweeps with a sparsity axis: drawn as curves over it; their run
    /// folders are not in `runs` (an arm of such a sweep mixes sparsities, so per-arm figures would too).
    let sweeps: [ReportSweep]
    let comparison: ReportTable?
    let timing: ReportTable?
    /// The folder the page is written to: paths on the page are relative to it.
    var pageFolder: URL

    init(paths: [String]) throws {
        guard !paths.isEmpty else { throw RunError("give at least one run, compare or sweep folder") }
        roots = paths.map { URL(fileURLWithPath: $0, isDirectory: true).standardizedFileURL }
        pageFolder = roots[0]
        var runs: [ReportRun] = []
        var comparison: ReportTable?, timing: ReportTable?, sweeps: [ReportSweep] = []
        for root in roots {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
                throw RunError("\(root.path): not a folder")
            }
            // a sweep with a sparsity axis is drawn as curves; one without (a compare is a sweep
            // over arm and seed) as its run folders, by arm
            if ReportSweep.isSweepFolder(root), case let sweep = try ReportSweep(root: root), !sweep.curves.isEmpty {
                guard !sweep.runs.runs.isEmpty else { throw RunError("\(root.path): a sweep folder without a completed run") }
                sweeps.append(sweep)
                continue
            }
            let found = try ReportInput.runFolders(under: root).map { try ReportRun(folder: $0) }
            let cmp = try ReportTable.load(root.appendingPathComponent("comparison.csv"))
            guard !found.isEmpty || cmp != nil else {
                throw RunError("\(root.path): no run folder (summary.csv and run.json) and no comparison.csv in it or below it")
            }
            runs += found
            comparison = comparison ?? cmp
            if cmp != nil, timing == nil { timing = try ReportTable.load(root.appendingPathComponent("timing.csv")) }
        }
        self.runs = runs
        self.sweeps = sweeps
        self.comparison = comparison
        self.timing = timing
        groups = ReportInput.group(runs, order: (try? comparison?.strings("method")) ?? [])
    }

    /// Run folders at or under `root`, sorted by path.
    static func runFolders(under root: URL) throws -> [URL] {
        if ReportRun.isRunFolder(root) { return [root] }
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root.path) else { throw RunError("\(root.path): cannot list the folder") }
        var out: [URL] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let u = root.appendingPathComponent(name, isDirectory: true)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: u.path, isDirectory: &isDir), isDir.boolValue { out += try runFolders(under: u) }
        }
        return out
    }

    /// Runs grouped by label: labels in `order` first (a comparison's method order), then dense
    /// and han, then the rest in order of first appearance; runs by seed.
    static func group(_ runs: [ReportRun], order: [String]) -> [ReportGroup] {
        var labels: [String] = []
        for l in order + ["dense", "han"] + runs.map(\.label) where !labels.contains(l) && runs.contains(where: { $0.label == l }) {
            labels.append(l)
        }
        return labels.enumerated().map { i, l in
            ReportGroup(
                label: l, runs: runs.filter { $0.label == l }.sorted { ($0.seed, $0.folder.path) < ($1.seed, $1.folder.path) },
                color: Palette.color(i))
        }
    }

    /// A path for captions: relative to the first folder given when under it, else to the page's folder.
    func display(_ url: URL) -> String {
        let full = url.standardizedFileURL.path
        for r in roots where full.hasPrefix(r.path + "/") { return String(full.dropFirst(r.path.count + 1)) }
        return RelativePath.of(url, from: pageFolder)
    }

    /// A folder given, as the page names it: relative to the page's folder ("this folder" for itself).
    func display(folder url: URL) -> String {
        let p = RelativePath.of(url, from: pageFolder)
        return p == "." ? "this folder" : p
    }

    /// Captions' name for `file` in `group`'s runs: `dir/<file>` for one run, `<label>-seed*/<file>` style otherwise.
    func source(_ file: String, in group: ReportGroup) -> String {
        let paths = group.runs.map { display($0.folder.appendingPathComponent(file)) }
        return paths.count == 1 ? paths[0] : "\(paths[0]) (and \(paths.count - 1) more seed\(paths.count == 2 ? "" : "s"))"
    }

    /// The heading of the page: what kind of folder this is.
    var kind: String {
        if comparison != nil { return "comparison" }
        return runs.count == 1 ? "run" : "\(runs.count) runs"
    }
}

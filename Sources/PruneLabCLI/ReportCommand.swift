import ArgumentParser
import Foundation
import Reports
import Experiments

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page of figures and tables for run, compare or sweep folders.")

    @Argument(help: "Run folders, compare folders, or folders holding run folders at any depth.")
    var dirs: [String]

    @Option(help: "The HTML file to write (default: report.html in the first folder).")
    var out: String?

    func validate() throws {
        try requirePath(out, "--out", "report.html")
        for d in dirs { try requirePath(d, "a folder", "runs/compare") }
    }

    func run() throws {
        try reportingErrors {
            let w = try Report.write(paths: dirs, out: out)
            print("report: \(w.path) (\(w.figures) figures, \(w.runs) runs)")
        }
    }
}

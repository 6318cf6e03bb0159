import ArgumentParser
import Curvature
import Foundation

extension ReportFormat: ExpressibleByArgument {}

struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ReportFormat = .table
}


/// `--report FILE.html`: the analysis as one self-contained page.
struct ReportPageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Also write the results as one self-contained HTML page (settings, seed, tables, plots inline).",
                               valueName: "file.html"))
    var report: String?

    func write(_ page: @autoclosure () -> HTMLPage) throws {
        guard let report, ProcessGroup.world.isRoot else { return }
        try OutputFile.write(page().html(), to: report, option: "--report")
    }
}

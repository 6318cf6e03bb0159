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

/// Writes the results to stdout and checks that it took them: a full disk or /dev/full behind stdout is an error,
/// not an exit status 0 over an empty or cut-off file (Swift's `print` drops write errors).
func writeToStandardOutput(_ text: String) throws {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            throw MessageError("cannot write the results to stdout: \(String(cString: strerror(errno)))")
        }
        bytes = bytes.dropFirst(written)
    }
}

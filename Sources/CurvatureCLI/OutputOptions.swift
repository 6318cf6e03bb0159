import ArgumentParser
import Curvature
import Foundation

extension ReportFormat: ExpressibleByArgument {}

struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ReportFormat = .table
}


import ArgumentParser
import Foundation

/// How a command renders its report on stdout.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Aligned columns for people.
    case table
    /// The report's Codable form with snake_case keys, for programs.
    case json
    /// One header row and one row per item, for spreadsheets and data frames.
    case csv
}

struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: OutputFormat = .table
}

struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import ArgumentParser
import Curvature
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List the tensors in a weight or data file: name, dtype, shape, element count, and totals.",
        discussion: "Supported files: \(WeightFile.supportedExtensions.map { "." + $0 }.joined(separator: ", ")).")

    @Argument(help: "The file to inspect.")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        try writeToStandardOutput(try renderedOutput())
    }

    /// What `run()` prints: the summary of `file` in the chosen format.
    func renderedOutput() throws -> String {
        try ArchiveSummary(WeightFile.open(URL(fileURLWithPath: file))).rendered(as: output.format)
    }
}

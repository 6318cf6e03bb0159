import ArgumentParser
import Curvature
import Foundation

/// `curvature htsr` with its default `analyze` and `compare`.
struct HTSRCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "htsr",
        abstract: "Heavy-tailed spectral analysis of every weight matrix in a file: power-law alpha per layer.",
        subcommands: [HTSRCommand.self, HTSRCompareCommand.self],
        defaultSubcommand: HTSRCommand.self)
}

struct HTSRCompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Per-layer distances between two models of one architecture: weights, spectra and alpha.",
        discussion: """
            For every layer found in both files with the same shape: alpha in each and their difference, \
            lambda_max in each, the Jensen-Shannon distance between the two ESDs (sorted eigenvalues as \
            probability vectors) and the relative Frobenius distance of the weights, ||W_A - W_B|| / ||W_B||.
            """)

    @Argument(help: "The first weight file (A).")
    var first: String
    @Argument(help: "The second weight file (B), the reference of the relative distances.")
    var second: String
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try writeToStandardOutput(try await compare().rendered(as: output.format))
    }

    func compare() async throws -> HTSRComparison {
        try await HTSRComparison.compare(try WeightFile.open(URL(fileURLWithPath: first)), try WeightFile.open(URL(fileURLWithPath: second)))
    }
}

import ArgumentParser
import Curvature
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small CNN on the shipped digits, then show its Hessian spectrum, HTSR table and loss landscape.",
        discussion: """
            Seeded and self-contained: needs no files. Prints the analyses and writes the plots and the landscape \
            grid to --out (./curvature-demo by default), listing each file.
            """)

    @Option(help: "Directory for the files.")
    var out = "curvature-demo"

    @Option(help: "Seed of the weights, the minibatch order, the probes and the landscape.")
    var seed: UInt64 = 0

    @Option(help: "Training epochs.")
    var epochs = Demo().epochs

    @OptionGroup var page: ReportPageOptions

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    }

    func run() async throws {
        var demo = Demo()
        demo.seed = seed
        demo.epochs = epochs
        let digits: Dataset<Double> = try DataLoader.load("digits")
        let progress = ProgressDisplay(quiet: quiet)
        let result = try await demo.run(digits: digits) { progress.show($0) }
        progress.finish()
        let files = try demo.write(result, to: out)
        try page.write(demo.page(of: result))
        try writeToStandardOutput(demo.summary(of: result, files: files))
    }
}

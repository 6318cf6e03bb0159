import ArgumentParser
import Curvature

@main
struct CurvatureCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "curvature",
        abstract: "Hessian spectra, loss landscapes and heavy-tailed weight spectra of trained networks.",
        discussion: """
            Reads weight files (safetensors, NumPy .npy/.npz, PyTorch checkpoints, ONNX) and reports on them.
            Results go to stdout as an aligned table, JSON or CSV (--format); progress and errors go to stderr.
            """,
        version: version,
        subcommands: [DemoCommand.self, InfoCommand.self, HTSRCommands.self, EvalCommand.self, SpectrumCommand.self, LandscapeCommand.self]
    )

    static func main() async {
        MemoryReuse.keepFreedBlocks()  // tensors' large arrays stay in the heap between passes
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

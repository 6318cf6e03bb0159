import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

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
        subcommands: [InfoCommand.self, HTSRCommand.self, EvalCommand.self, SpectrumCommand.self, LandscapeCommand.self]
    )

    static func main() async {
        keepFreedMemory()
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

    /// Every forward pass allocates and frees the same few large arrays. glibc returns blocks above its mmap
    /// threshold to the kernel on free, so each pass would pay page faults and zeroing for all of them again
    /// (a third of a small model's time); keeping up to 512 MiB of freed memory in the heap avoids that.
    static func keepFreedMemory() {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which Glibc's module does not export.
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD
        _ = mallopt(-1, 512 << 20)  // M_TRIM_THRESHOLD
        _ = mallopt(-2, 64 << 20)  // M_TOP_PAD
        #endif
    }
}

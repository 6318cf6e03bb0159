import Foundation
import LinearAlgebra
import ModelFormats
import ModelImport
import NeuralNetworks
import Autodiff

/// The reader under test, from CURVATURE_FUZZ_FORMAT: safetensors, npy, npz, pt or onnx (decoding, graph import and
/// one forward pass). libFuzzer's driver runs from main with the command line; each input is written to a file with the format's extension and read
/// whole, as the CLI reads a user's file. Any thrown error is a pass; a trap, a signal, a leak of the time or memory
/// limits is a finding.
let format = ProcessInfo.processInfo.environment["CURVATURE_FUZZ_FORMAT"] ?? "safetensors"
let scratch = FileManager.default.temporaryDirectory
    .appendingPathComponent("curvature-fuzz-\(getpid()).\(format)")

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    guard (try? data.write(to: scratch)) != nil else { return 0 }
    if format == "onnx" { readModel() } else { readArchive() }
    return 0
}

func readArchive() {
    guard let archive = try? WeightFile.open(scratch) else { return }
    for descriptor in archive.descriptors {
        guard let tensor = try? archive.tensor(named: descriptor.name) else { continue }
        if tensor.dtype.isFloatingPoint { _ = tensor.tensor(Double.self) } else { _ = tensor.integers() }
    }
}

func readModel() {
    guard let loaded = try? ModelLoader.load(scratch.path, as: Float.self) else { return }
    // One sample of the declared input shape (symbolic axes taken as 1), through the throwing path.
    let shape = loaded.model.inputShape.map { min($0 ?? 1, 64) }
    guard shape.reduce(1, *) <= 1 << 16 else { return }
    let values = Dictionary(uniqueKeysWithValues: zip(loaded.parameters.names + loaded.buffers.names,
                                                      (loaded.parameters.tensors + loaded.buffers.tensors).map { Variable($0) }))
    _ = try? loaded.model.run(Variable(Tensor<Float>(repeating: 0, shape: shape)), ParameterScope(values))
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })

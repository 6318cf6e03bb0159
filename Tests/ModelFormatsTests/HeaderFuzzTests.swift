import Foundation
import LinearAlgebra
import Testing
@testable import ModelFormats

/// Mutates valid files at random (seeded): byte flips, cuts, splices of random bytes, integer fields set to
/// extremes. Every mutant must either decode to a self-consistent tensor or throw `FormatError`; a crash or
/// hang fails the whole run. Bounded so the suite stays fast.
enum Mutator {
    static func mutants(of valid: Data, count: Int, seed: UInt64) -> [Data] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            var bytes = [UInt8](valid)
            for _ in 0..<(1 + Int(random.next() % 4)) {
                guard !bytes.isEmpty else { break }
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 5 {
                case 0: bytes[position] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                case 1: bytes.removeSubrange(position...)
                case 2: bytes.insert(contentsOf: (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: position)
                case 3:
                    for i in position..<min(bytes.count, position + 8) { bytes[i] = 0xFF }
                default:
                    let digits = Array("99999999999999999999-".utf8)
                    bytes[position] = digits[Int(random.next() % UInt64(digits.count))]
                }
            }
            return Data(bytes)
        }
    }
}

@Suite struct HeaderFuzzTests {
    @Test func npyHeaderParser() throws {
        for file in ["v1_float32.npy", "v3_int16.npy", "fortran_float32.npy", "big_endian_float64.npy"] {
            let valid = try Data(contentsOf: fixture("numpy/" + file))
            for mutant in Mutator.mutants(of: valid, count: 500, seed: 17) {
                let error = formatError {
                    let tensor = try NumPyFormat.decode(mutant, name: "t", file: "fuzz.npy")
                    #expect(tensor.data.count == tensor.descriptor.byteCount)
                }
                if let error { #expect(error.file == "fuzz.npy") }
            }
        }
    }

    @Test func npzArchiveReader() throws {
        let valid = try Data(contentsOf: fixture("numpy/dtypes_compressed.npz"))
        let directory = temporaryDirectory()
        for (index, mutant) in Mutator.mutants(of: valid, count: 150, seed: 23).enumerated() {
            let url = directory.appendingPathComponent("m\(index).npz")
            try mutant.write(to: url)
            let error = formatError {
                let archive = try NumPyArchive(contentsOf: url)
                for tensor in try archive.allTensors() {
                    #expect(tensor.data.count == tensor.descriptor.byteCount)
                }
            }
            if let error { #expect(error.file.hasSuffix("m\(index).npz")) }
        }
    }
}

@Suite struct WeightFormatFuzzTests {
    @Test func safetensorsHeaderParser() throws {
        let valid = try Data(contentsOf: fixture("safetensors/all_dtypes.safetensors"))
        for mutant in Mutator.mutants(of: valid, count: 1500, seed: 29) {
            let error = formatError {
                let file = try SafetensorsFile(data: mutant, file: "fuzz.safetensors")
                for tensor in try file.allTensors() { #expect(tensor.data.count == tensor.descriptor.byteCount) }
            }
            if let error { #expect(error.file == "fuzz.safetensors") }
        }
    }

    @Test func torchPickleMachine() throws {
        let pickle = PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [2, 2], stride: [2, 1])
        for mutant in Mutator.mutants(of: pickle, count: 3000, seed: 31) {
            var unpickler = TorchUnpickler(mutant, file: "fuzz.pt")
            let error = formatError { _ = try unpickler.load() }
            if let error { #expect(error.file == "fuzz.pt") }
        }
    }

    @Test func onnxProtobufDecoder() throws {
        let valid = try Data(contentsOf: fixture("onnx/typed_fields.onnx"))
        let directory = temporaryDirectory()
        for (index, mutant) in Mutator.mutants(of: valid, count: 300, seed: 37).enumerated() {
            let url = directory.appendingPathComponent("m\(index).onnx")
            try mutant.write(to: url)
            let error = formatError {
                let model = try ONNXModel(contentsOf: url)
                for tensor in try model.allTensors() { #expect(tensor.data.count == tensor.descriptor.byteCount) }
            }
            if let error { #expect(error.file.hasSuffix("m\(index).onnx")) }
        }
    }

    @Test func strictJSONParser() throws {
        let valid = Data(#"{"weight_map":{"a.weight":"model-1.safetensors","b":"x"},"metadata":{"n":[1,2.5e3,-4,true,null,"\u00e9"]}}"#.utf8)
        for mutant in Mutator.mutants(of: valid, count: 3000, seed: 41) {
            _ = try? StrictJSONParser.parse(Array(mutant))
        }
        #expect(try StrictJSONParser.parse(Array(valid))["metadata"] != nil)
    }
}

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

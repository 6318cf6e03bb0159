import Foundation
import Testing
@testable import ModelFormats

@Suite struct NumPyBadInputTests {
    /// A version-1 .npy stream with the given header dict text and data bytes.
    func npy(_ dictionary: String, data: Data = Data(), version: UInt8 = 1, lengthOverride: UInt32? = nil) -> Data {
        var bytes = NumPyFormat.magic
        bytes.append(contentsOf: [version, 0])
        let length = lengthOverride ?? UInt32(dictionary.utf8.count)
        if version == 1 {
            bytes.append(contentsOf: [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF)])
        } else {
            bytes.append(contentsOf: (0..<4).map { UInt8((length >> (8 * UInt32($0))) & 0xFF) })
        }
        bytes.append(contentsOf: Array(dictionary.utf8))
        bytes.append(data)
        return bytes
    }

    func decode(_ data: Data) throws { _ = try NumPyFormat.decode(data, name: "t", file: "bad.npy") }

    @Test func truncatedEverywhere() throws {
        let valid = try Data(contentsOf: fixture("numpy/v1_float32.npy"))
        // Every prefix of a valid file fails cleanly with truncated (or invalidHeader for a cut dict).
        for length in 0..<valid.count {
            let error = formatError { try decode(valid.prefix(length)) }
            #expect(error.map { [.truncated, .invalidHeader].contains($0.kind) } == true, "\(length): \(String(describing: error))")
            #expect(error?.description.hasPrefix("bad.npy") == true)
        }
    }

    @Test func headerLengthPastTheEndOrHuge() {
        expectFormatError(.truncated, file: "bad.npy") {
            try decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", lengthOverride: 60000))
        }
        expectFormatError(.invalidHeader, file: "bad.npy") {
            try decode(npy("{}", version: 2, lengthOverride: UInt32.max))
        }
    }

    @Test func badMagicAndVersion() {
        expectFormatError(.invalidHeader) { try decode(Data("NOTNUMPY--------".utf8)) }
        expectFormatError(.unsupportedFeature) { try decode(npy("{}", version: 9)) }
    }

    @Test func shapesThatAreNegativeOrOverflow() {
        let error = expectFormatError(.invalidShape, file: "bad.npy") {
            try decode(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 4), }"))
        }
        #expect(error?.tensor == "t")
        expectFormatError(.invalidShape) {
            try decode(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"))
        }
        expectFormatError(.invalidHeader) {
            try decode(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }"))
        }
        expectFormatError(.invalidShape) {
            try decode(npy("{'descr': '<f8', 'fortran_order': False, 'shape': ('a',), }"))
        }
    }

    @Test func unknownDTypes() {
        for descr in ["<c16", "|O", "<U5", "<f16", "x", ""] {
            expectFormatError(.unsupportedDType) {
                try decode(npy("{'descr': '\(descr)', 'fortran_order': False, 'shape': (1,), }"))
            }
        }
        expectFormatError(.invalidHeader) {  // structured dtypes are lists, not strings
            try decode(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"))
        }
    }

    @Test func malformedHeaderDictionaries() {
        for text in ["", "{", "{'descr': '<f4'", "{'descr' '<f4'}", "[1, 2]", "{'descr': '<f4', 'descr': '<f8'}",
                     "{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'shape': (1,)}",
                     "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", String(repeating: "(", count: 500),
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } trailing"] {
            expectFormatError(.invalidHeader) { try decode(npy(text)) }
        }
    }

    @Test func dataShorterOrLongerThanTheShape() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
        expectFormatError(.truncated) { try decode(npy(header, data: Data(count: 15))) }
        expectFormatError(.invalidOffsets) { try decode(npy(header, data: Data(count: 17))) }
        #expect(throws: Never.self) { try decode(npy(header, data: Data(count: 16))) }
    }

    @Test func zipBombsAreRefused() {
        expectFormatError(.compressionBomb, file: "bomb_lying_size.npz") {
            _ = try NumPyArchive(contentsOf: fixture("numpy/bomb_lying_size.npz"))
        }
        expectFormatError(.compressionBomb, file: "bomb_huge_declared.npz") {
            _ = try NumPyArchive(contentsOf: fixture("numpy/bomb_huge_declared.npz"), maximumEntryBytes: 100_000_000)
        }
    }

    @Test func notAZipAndTruncatedZip() throws {
        let directory = temporaryDirectory()
        let notZip = directory.appendingPathComponent("plain.npz")
        try Data("hello".utf8).write(to: notZip)
        expectFormatError(.invalidHeader, file: "plain.npz") { _ = try NumPyArchive(contentsOf: notZip) }
        let valid = try Data(contentsOf: fixture("numpy/dtypes_compressed.npz"))
        for cut in stride(from: 0, to: valid.count, by: 97) {
            let url = directory.appendingPathComponent("cut\(cut).npz")
            try valid.prefix(cut).write(to: url)
            let error = formatError {
                let archive = try NumPyArchive(contentsOf: url)
                _ = try archive.allTensors()
            }
            #expect(error?.description.contains("cut\(cut).npz") ?? (cut == 0), "cut at \(cut)")
        }
    }

    /// One flipped bit anywhere in a stored member's data is a CRC-32 error, never a different number.
    @Test func everyFlippedDataBitIsCaughtByTheChecksum() throws {
        let valid = try Data(contentsOf: fixture("numpy/dtypes_stored.npz"))
        let archive = try NumPyArchive(contentsOf: fixture("numpy/dtypes_stored.npz"))
        let original = try archive.allTensors()
        let directory = temporaryDirectory()
        // The data of the first member starts after its local header (30 bytes, name, extra field) and its .npy
        // header (10 bytes and the dictionary, version 1).
        let npy = 30 + (Int(valid[26]) | Int(valid[27]) << 8) + (Int(valid[28]) | Int(valid[29]) << 8)
        #expect(valid[npy..<(npy + 6)] == Data([0x93] + Array("NUMPY".utf8)))
        let dataStart = npy + 10 + (Int(valid[npy + 8]) | Int(valid[npy + 9]) << 8), dataEnd = dataStart + original[0].data.count
        var caught = 0
        let offsets = Array(stride(from: dataStart, to: dataEnd, by: max(1, (dataEnd - dataStart) / 16)))
        for offset in offsets {
            var flipped = valid
            flipped[offset] ^= 0x10
            let url = directory.appendingPathComponent("flipped.npz")
            try flipped.write(to: url)
            let error = formatError { _ = try NumPyArchive(contentsOf: url).allTensors() }
            if error?.kind == .corrupt, error?.description.contains("fails its CRC-32 check") == true { caught += 1 }
        }
        #expect(!offsets.isEmpty && caught == offsets.count)
    }

    /// An end record declaring more entries than the central directory yields: refused, not "0 tensors".
    @Test func aCentralDirectoryShortOfItsDeclaredCountIsRefused() throws {
        var damaged = try Data(contentsOf: fixture("numpy/dtypes_stored.npz"))
        let end = damaged.count - 22
        #expect(damaged[end..<(end + 4)] == Data([0x50, 0x4b, 0x05, 0x06]))
        damaged[end + 10] &+= 1
        damaged[end + 8] &+= 1
        let url = temporaryDirectory().appendingPathComponent("short.npz")
        try damaged.write(to: url)
        let error = expectFormatError(.corrupt, file: "short.npz") { _ = try NumPyArchive(contentsOf: url) }
        #expect(error?.description.contains("declares") == true)
    }

    @Test func missingFileAndUnknownExtension() {
        expectFormatError(.unreadable, file: "no/such.npz") { _ = try WeightFile.open(URL(fileURLWithPath: "no/such.npz")) }
        expectFormatError(.unsupportedFeature, file: "Package.swift") {
            _ = try WeightFile.open(URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Package.swift").standardized)
        }
    }
}

import Foundation
import Testing
@testable import ModelFormats

@Suite struct NumPyReadTests {
    func check(_ file: String, dtype: DType, shape: [Int]) throws {
        let tensor = try NumPyFormat.read(contentsOf: fixture("numpy/" + file))
        #expect(tensor.dtype == dtype && tensor.shape == shape, "\(file)")
        #expect(tensor.doubles() == fixtureValues(dtype, count: shape.reduce(1, *)), "\(file)")
    }

    @Test func formatVersionsOneTwoThree() throws {
        try check("v1_float32.npy", dtype: .float32, shape: [3, 4])
        try check("v2_float64.npy", dtype: .float64, shape: [2, 5])
        try check("v3_int16.npy", dtype: .int16, shape: [7])
    }

    @Test func bigEndianIsConverted() throws {
        try check("big_endian_float64.npy", dtype: .float64, shape: [4, 3])
        try check("big_endian_int32.npy", dtype: .int32, shape: [6])
    }

    @Test func fortranOrderIsConvertedToC() throws {
        // numpy wrote asfortranarray(values): the logical (C-order) values are the formula's.
        try check("fortran_float32.npy", dtype: .float32, shape: [2, 3, 4])
    }

    @Test func scalarAndEmptyArrays() throws {
        try check("scalar_float64.npy", dtype: .float64, shape: [])
        try check("empty_float32.npy", dtype: .float32, shape: [0, 3])
    }

    @Test(arguments: ["dtypes_stored.npz", "dtypes_compressed.npz"])
    func everyDTypeInStoredAndDeflatedArchives(file: String) throws {
        let archive = try NumPyArchive(contentsOf: fixture("numpy/" + file))
        let expected: [DType] = [.bool, .uint8, .int8, .int16, .uint16, .int32, .uint32, .int64, .uint64,
                                 .float16, .float32, .float64]
        #expect(archive.descriptors.map(\.name) == expected.map(\.rawValue))
        for dtype in expected {
            let tensor = try archive.tensor(named: dtype.rawValue)
            #expect(tensor.dtype == dtype && tensor.shape == [2, 3])
            #expect(tensor.doubles() == fixtureValues(dtype, count: 6), "\(dtype)")
        }
        #expect(try archive.tensor(named: "int64").integers() == [-50, -49, -48, -47, -46, -45])
    }

    @Test func shippedDigitsData() throws {
        let archive = try WeightFile.open(URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().appendingPathComponent("../../Examples/data/digits.npz").standardized)
        let summary = ArchiveSummary(archive)
        #expect(summary.tensors.map(\.name) == ["x", "y"])
        #expect(summary.tensors.map(\.shape) == [[1797, 64], [1797]])
        #expect(summary.elementCount == 1797 * 65)
        let labels = try archive.tensor(named: "y").integers()
        #expect(Set(labels) == Set(0...9))
        let pixels = try archive.tensor(named: "x").tensor(Float.self)
        #expect(pixels.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}

@Suite struct NumPyRoundTripTests {
    func tensor(_ dtype: DType, shape: [Int]) -> StoredTensor {
        let values = fixtureValues(dtype, count: shape.reduce(1, *))
        var data = Data()
        for value in values {
            switch dtype {
            case .bool, .uint8: data.append(UInt8(value))
            case .int8: withUnsafeBytes(of: Int8(value).littleEndian) { data.append(contentsOf: $0) }
            case .int16: withUnsafeBytes(of: Int16(value).littleEndian) { data.append(contentsOf: $0) }
            case .uint16: withUnsafeBytes(of: UInt16(value).littleEndian) { data.append(contentsOf: $0) }
            case .int32: withUnsafeBytes(of: Int32(value).littleEndian) { data.append(contentsOf: $0) }
            case .uint32: withUnsafeBytes(of: UInt32(value).littleEndian) { data.append(contentsOf: $0) }
            case .int64: withUnsafeBytes(of: Int64(value).littleEndian) { data.append(contentsOf: $0) }
            case .uint64: withUnsafeBytes(of: UInt64(value).littleEndian) { data.append(contentsOf: $0) }
            case .float16: withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .bfloat16:
                withUnsafeBytes(of: UInt16(Float(value).bitPattern >> 16).littleEndian) { data.append(contentsOf: $0) }
            case .float32: withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .float64: withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        return StoredTensor(descriptor: TensorDescriptor(name: dtype.rawValue, dtype: dtype, shape: shape), data: data)
    }

    @Test func npyRoundTripsEveryNumPyDType() throws {
        for dtype in DType.allCases where dtype != .bfloat16 {
            for shape in [[], [0], [5], [2, 3, 4]] {
                let original = tensor(dtype, shape: shape)
                let encoded = try NumPyFormat.encode(original)
                #expect(encoded.count % 64 == (original.data.count % 64), "header is padded to 64 bytes")
                let decoded = try NumPyFormat.decode(encoded, name: original.name, file: "memory")
                #expect(decoded == original, "\(dtype) \(shape)")
            }
        }
    }

    @Test func bfloat16HasNoNumPyForm() {
        expectFormatError(.unsupportedDType) { _ = try NumPyFormat.encode(tensor(.bfloat16, shape: [2])) }
    }

    @Test(arguments: [true, false])
    func npzRoundTrip(compressed: Bool) throws {
        let directory = temporaryDirectory()
        let url = directory.appendingPathComponent("round.npz")
        let tensors = DType.allCases.filter { $0 != .bfloat16 }.map { tensor($0, shape: [3, 2]) }
        try NumPyArchive.write(tensors, to: url, compressed: compressed)
        let archive = try NumPyArchive(contentsOf: url)
        #expect(try archive.allTensors() == tensors)
    }

    @Test func npzRefusesDuplicateNamesOnWrite() {
        let url = temporaryDirectory().appendingPathComponent("dup.npz")
        let t = tensor(.float32, shape: [1])
        expectFormatError(.duplicateName) { try NumPyArchive.write([t, t], to: url) }
    }
}

import Foundation
import LinearAlgebra
import Testing
@testable import ModelFormats

/// HDF5 files made by h5py (scripts/fixtures/make_hdf5_fixtures.py) and by ``HDF5Archive/write(_:strings:attributes:to:)``.
@Suite struct HDF5Tests {
    @Test func kerasFileListsItsNumericDatasetsAndDeclaresChannelsLast() throws {
        let archive = try WeightFile.open(fixture("hdf5/keras.h5"))
        #expect(archive.formatName == "hdf5")
        #expect(archive.kernelLayout == .channelsLast)
        #expect(archive.descriptors.map(\.name) == [
            "extra/big_endian", "extra/byte", "extra/compressed", "extra/double", "extra/flag", "extra/half", "extra/long",
            "model_weights/conv/conv/kernel:0", "model_weights/dense/dense/bias:0", "model_weights/dense/dense/kernel:0",
        ])
        let expected: [String: (DType, [Int])] = [
            "extra/big_endian": (.float32, [3]), "extra/byte": (.uint8, [4]), "extra/compressed": (.float32, [50]),
            "extra/double": (.float64, [2, 3]), "extra/flag": (.bool, [5]), "extra/half": (.float16, [7]), "extra/long": (.int64, [4]),
            "model_weights/conv/conv/kernel:0": (.float32, [3, 3, 4, 6]), "model_weights/dense/dense/bias:0": (.float32, [5]),
            "model_weights/dense/dense/kernel:0": (.float32, [12, 5]),
        ]
        for descriptor in archive.descriptors {
            let (dtype, shape) = try #require(expected[descriptor.name])
            #expect(descriptor.dtype == dtype && descriptor.shape == shape, "\(descriptor)")
            let tensor = try archive.tensor(named: descriptor.name)
            #expect(tensor.doubles() == fixtureValues(dtype, count: descriptor.elementCount), "\(descriptor.name)")
        }
    }

    @Test func directionGroupsAreInNumericOrder() throws {
        let archive = try HDF5Archive(contentsOf: fixture("hdf5/directions.h5"))
        #expect(archive.kernelLayout == nil)
        #expect(archive.descriptors.map(\.name) == (0..<12).map { "xdirection/\($0)" } + (0..<12).map { "ydirection/\($0)" })
        let y11 = try archive.tensor(named: "ydirection/11")
        #expect(y11.shape == [12])
        #expect(y11.doubles() == fixtureValues(.float32, count: 12).map { -$0 })
    }

    @Test func writtenFilesReadBack() throws {
        let url = temporaryDirectory().appendingPathComponent("round.h5")
        let grid = StoredTensor(name: "train_loss", tensor: Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, .nan, -.infinity]))
        let nested = StoredTensor(name: "a/b/c", tensor: Tensor<Float>(shape: [4], scalars: [0.5, -1, 2, 3]))
        var seed = UInt64.max.littleEndian
        let counter = StoredTensor(descriptor: TensorDescriptor(name: "seed", dtype: .uint64, shape: []), data: Data(bytes: &seed, count: 8))
        try HDF5Archive.write([grid, nested, counter], strings: [("dir_file", "x.h5")], attributes: [("note", "é")], to: url)
        let archive = try HDF5Archive(contentsOf: url)
        #expect(archive.descriptors.map(\.name) == ["a/b/c", "seed", "train_loss"])
        #expect(try archive.tensor(named: "a/b/c") == nested)
        #expect(try archive.tensor(named: "seed") == counter)
        let read = try archive.tensor(named: "train_loss").doubles()
        #expect(read[0..<4] == [1, 2, 3, 4] && read[4].isNaN && read[5] == -.infinity)
    }

    @Test func damagedFilesAreRefusedWithTheFileNamed() throws {
        let directory = temporaryDirectory()
        let original = try Data(contentsOf: fixture("hdf5/keras.h5"))
        let notHDF5 = directory.appendingPathComponent("text.h5")
        try Data("just text\n".utf8).write(to: notHDF5)
        expectFormatError(.invalidHeader, file: "text.h5") { _ = try HDF5Archive(contentsOf: notHDF5) }
        // Cut at many lengths and with bytes flipped through the file: every failure is a FormatError, never a crash.
        var refused = 0
        for fraction in stride(from: 0.05, to: 1.0, by: 0.05) {
            let cut = directory.appendingPathComponent("cut.h5")
            try original.prefix(Int(Double(original.count) * fraction)).write(to: cut)
            if formatError({ _ = try HDF5Archive(contentsOf: cut).allTensors() }) != nil { refused += 1 }
        }
        #expect(refused == 19)
        for offset in stride(from: 8, to: original.count, by: max(1, original.count / 97)) {
            var flipped = original
            flipped[offset] ^= 0xff
            let url = directory.appendingPathComponent("flipped.h5")
            try flipped.write(to: url)
            _ = formatError { _ = try HDF5Archive(contentsOf: url).allTensors() }
        }
    }
}

import Foundation
import Testing
import ZIPFoundation
@testable import ModelFormats

/// Builds pickles opcode by opcode, for hostile and edge-case checkpoints.
struct PickleBuilder {
    var bytes: [UInt8] = [0x80, 0x02]
    mutating func op(_ code: UInt8) { bytes.append(code) }
    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58)
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += utf8
    }
    mutating func int(_ value: Int) {
        bytes.append(0x4A)
        withUnsafeBytes(of: Int32(value).littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func tuple(_ items: [Int]) {
        op(0x28)
        for item in items { int(item) }
        op(0x74)
    }
    /// `{name: _rebuild_tensor_v2(storage(key, FloatStorage, count), offset, size, stride, False, OrderedDict())}`
    static func stateDict(name: String, storageKey: String = "0", storageCount: Int, offset: Int, size: [Int], stride: [Int]) -> Data {
        var p = PickleBuilder()
        p.op(0x7D)  // EMPTY_DICT
        p.string(name)
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.op(0x28)  // MARK: arguments
        p.op(0x28)  // persistent id tuple
        p.string("storage")
        p.global("torch", "FloatStorage")
        p.string(storageKey)
        p.string("cpu")
        p.int(storageCount)
        p.op(0x74)
        p.op(0x51)  // BINPERSID
        p.int(offset)
        p.tuple(size)
        p.tuple(stride)
        p.op(0x89)
        p.global("collections", "OrderedDict")
        p.op(0x29)
        p.op(0x52)
        p.op(0x74)  // TUPLE of the arguments
        p.op(0x52)  // REDUCE
        p.op(0x73)  // SETITEM
        p.op(0x2E)
        return Data(p.bytes)
    }
}

/// A torch.save-shaped zip: archive/data.pkl, archive/data/KEY, archive/byteorder.
func torchZip(pickle: Data, storages: [String: Data], in directory: URL, name: String = "crafted.pt") throws -> URL {
    let url = directory.appendingPathComponent(name)
    let archive = try Archive(url: url, accessMode: .create)
    var entries: [(String, Data)] = [("archive/data.pkl", pickle), ("archive/byteorder", Data("little".utf8))]
    entries += storages.map { ("archive/data/\($0.key)", $0.value) }
    for (path, data) in entries {
        try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
    }
    return url
}

@Suite struct TorchCheckpointTests {
    @Test func nestedCheckpointWithViewsAndDTypes() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: fixture("torch/checkpoint.pt"))
        // "state_dict" was unwrapped; "epoch" and "note" are not tensors.
        #expect(checkpoint.descriptors.first?.name == "0.weight")
        #expect(!checkpoint.descriptors.contains { $0.name.contains("epoch") })
        #expect(checkpoint.descriptors.first { $0.name == "dtypes.bfloat16" }?.dtype == .bfloat16)
        try expectMatchesExpected(checkpoint)
        let transposed = try checkpoint.tensor(named: "views.transposed")
        #expect(transposed.shape == [8, 5] && Array(transposed.doubles().prefix(3)) == [0, 8, 16])
    }

    @Test(arguments: ["torch/pytorch_model.bin", "torch/parameters.pth"])
    func plainStateDicts(file: String) throws {
        let archive = try WeightFile.open(fixture(file))
        #expect(archive.descriptors.count == 9)
        try expectMatchesExpected(archive)
    }

    @Test func maliciousPickleIsRefusedAndNothingRuns() {
        let marker = "/tmp/curvature-pickle-was-executed"
        try? FileManager.default.removeItem(atPath: marker)
        let error = expectFormatError(.refusedPickle, file: "evil_os_system.pt") {
            _ = try WeightFile.open(fixture("torch/evil_os_system.pt"))
        }
        #expect(error?.reason.contains("posix.system") == true)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// The same state dict saved in the legacy (pre-1.6) format and in the zip format reads the same, shared and
    /// strided views included.
    @Test func legacyFilesReadAsTheirZipTwins() throws {
        let legacy = try WeightFile.open(fixture("torch/legacy_format.pt"))
        let zip = try WeightFile.open(fixture("torch/pytorch_model.bin"))
        #expect(legacy.formatName == "torch.save" && !legacy.descriptors.isEmpty)
        #expect(legacy.descriptors == zip.descriptors)
        for descriptor in zip.descriptors {
            #expect(try legacy.tensor(named: descriptor.name).data == zip.tensor(named: descriptor.name).data, "\(descriptor.name)")
        }
    }

    @Test func truncatedLegacyFilesAreRefused() throws {
        let data = try Data(contentsOf: fixture("torch/legacy_format.pt"))
        let directory = temporaryDirectory()
        for cut in [20, data.count / 2, data.count - 3] {
            let url = directory.appendingPathComponent("cut\(cut).pt")
            try data.prefix(cut).write(to: url)
            #expect(throws: FormatError.self) { _ = try WeightFile.open(url).allTensors() }
        }
    }

    @Test func torchScriptFilesSayWhatToDo() {
        let script = expectFormatError(.unsupportedFeature) { _ = try WeightFile.open(fixture("torch/torchscript.pt")) }
        #expect(script?.reason.contains("TorchScript") == true)
    }

    /// Deep nesting is refused before it can overflow the stack (a 60 KB pickle of nested lists did, when freed):
    /// built on the machine's stack, built with constant stack through the memo, in tuples, and a list in itself.
    @Test func deepAndRecursiveStructuresAreRefused() throws {
        let directory = temporaryDirectory()
        var onTheStack = PickleBuilder()
        for _ in 0..<20_000 { onTheStack.op(0x5D) }  // EMPTY_LIST
        for _ in 0..<19_999 { onTheStack.op(0x61) }  // APPEND
        onTheStack.op(0x2E)
        var throughTheMemo = PickleBuilder()
        throughTheMemo.op(0x5D)
        for _ in 0..<30_000 {  // [new], then new on top again: a chain with one list on the stack
            throughTheMemo.bytes += [0x5D, 0x71, 0x00, 0x61, 0x30, 0x68, 0x00]  // EMPTY_LIST BINPUT 0 APPEND POP BINGET 0
        }
        throughTheMemo.op(0x2E)
        var tuples = PickleBuilder()
        tuples.op(0x4E)
        for _ in 0..<20_000 { tuples.op(0x85) }  // TUPLE1
        tuples.op(0x2E)
        var itself = PickleBuilder()
        itself.bytes += [0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]  // EMPTY_LIST BINPUT 0 BINGET 0 APPEND STOP
        let cases: [(String, PickleBuilder, FormatError.Kind, String)] = [
            ("stack", onTheStack, .invalidHeader, "nested more than 200 deep"),
            ("memo", throughTheMemo, .refusedPickle, "changed after being placed in another"),
            ("tuples", tuples, .invalidHeader, "nested more than 200 deep"),
            ("itself", itself, .refusedPickle, "placed in itself"),
        ]
        for (name, pickle, kind, reason) in cases {
            let url = try torchZip(pickle: Data(pickle.bytes), storages: [:], in: directory, name: "\(name).pt")
            let error = expectFormatError(kind, file: "\(name).pt") { _ = try TorchCheckpoint(contentsOf: url) }
            #expect(error?.description.contains(reason) == true, "\(name): \(error.map { "\($0)" } ?? "")")
        }
        // Nesting within the limit (far deeper than any checkpoint) still reads: 150 dicts, each the only value of
        // the one around it, built inside out as the pickler does.
        var nested = PickleBuilder()
        nested.op(0x7D)
        for _ in 0..<149 {
            nested.op(0x7D)  // EMPTY_DICT, then SETITEM "k" -> the dict built so far: swap order via the memo
            nested.bytes += [0x71, 0x01, 0x30]  // BINPUT 1, POP: the new dict is in memo 1, the inner one on top
            nested.bytes += [0x71, 0x02, 0x30]  // BINPUT 2, POP: the inner one in memo 2
            nested.bytes += [0x68, 0x01]  // BINGET 1: the new dict
            nested.string("k")
            nested.bytes += [0x68, 0x02, 0x73]  // BINGET 2, SETITEM
        }
        nested.op(0x2E)
        let url = try torchZip(pickle: Data(nested.bytes), storages: [:], in: directory, name: "nested.pt")
        #expect(formatError { _ = try TorchCheckpoint(contentsOf: url) }?.description.contains("nested more than") != true)
    }

    @Test func craftedGlobalsAndOpcodesAreRefused() throws {
        let directory = temporaryDirectory()
        var eval = PickleBuilder()
        eval.global("builtins", "eval")
        eval.string("__import__('os').system('touch /tmp/curvature-eval')")
        eval.op(0x85)
        eval.op(0x52)
        eval.op(0x2E)
        var stackGlobal = PickleBuilder()
        stackGlobal.string("os")
        stackGlobal.string("system")
        stackGlobal.op(0x93)
        stackGlobal.op(0x2E)
        var newObject = PickleBuilder()
        newObject.global("collections", "OrderedDict")
        newObject.op(0x29)
        newObject.op(0x81)
        newObject.op(0x2E)
        for (index, pickle) in [eval, stackGlobal, newObject].enumerated() {
            let url = try torchZip(pickle: Data(pickle.bytes), storages: [:], in: directory, name: "evil\(index).pt")
            expectFormatError(.refusedPickle, file: "evil\(index).pt") { _ = try TorchCheckpoint(contentsOf: url) }
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/curvature-eval"))
    }

    @Test func craftedViewsAndStorages() throws {
        let directory = temporaryDirectory()
        let storage = Data((0..<16).map { UInt8($0) })  // four float32 values
        let valid = try torchZip(pickle: PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 1, size: [3], stride: [1]),
                                 storages: ["0": storage], in: directory, name: "valid.pt")
        #expect(try TorchCheckpoint(contentsOf: valid).tensor(named: "w").data == storage.suffix(12))

        let cases: [(FormatError.Kind, Data, [String: Data])] = [
            (.invalidOffsets, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [10], stride: [1]), ["0": storage]),
            (.invalidOffsets, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 2, size: [2, 2], stride: [2, 1]), ["0": storage]),
            (.invalidShape, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [-1], stride: [1]), ["0": storage]),
            (.invalidShape, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [2], stride: [-1]), ["0": storage]),
            (.invalidShape, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [2, 2], stride: [1]), ["0": storage]),
            (.truncated, PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [4], stride: [1]), [:]),
            (.truncated, PickleBuilder.stateDict(name: "w", storageCount: 8, offset: 0, size: [8], stride: [1]), ["0": storage]),
        ]
        for (index, (kind, pickle, storages)) in cases.enumerated() {
            let url = try torchZip(pickle: pickle, storages: storages, in: directory, name: "case\(index).pt")
            let error = expectFormatError(kind, file: "case\(index).pt") { _ = try TorchCheckpoint(contentsOf: url) }
            #expect(error?.tensor == "w", "case \(index)")
        }
    }

    @Test func truncatedPickle() throws {
        let directory = temporaryDirectory()
        let pickle = PickleBuilder.stateDict(name: "w", storageCount: 4, offset: 0, size: [4], stride: [1])
        for cut in stride(from: 0, to: pickle.count, by: 5) {
            let url = try torchZip(pickle: pickle.prefix(cut), storages: ["0": Data(count: 16)], in: directory, name: "cut\(cut).pt")
            let error = formatError { _ = try TorchCheckpoint(contentsOf: url) }
            #expect(error != nil && error!.file.hasSuffix("cut\(cut).pt"), "cut \(cut)")
        }
    }
}

import Foundation
import ZIPFoundation

/// A `torch.save` checkpoint (`pytorch_model.bin`, `*.pt`, `*.pth`). In the zip format PyTorch has written since 1.6:
/// `PREFIX/data.pkl` (a pickle of the saved object whose tensors point at storages by persistent id),
/// `PREFIX/data/KEY` (the raw storages), and `PREFIX/byteorder`. In the legacy format before it (still shipped, e.g.
/// by facenet-pytorch): five pickles one after another (magic number, protocol version 1001, system info with the
/// byte order, the object, the list of storage keys), then each storage in that order as an int64 element count
/// followed by its bytes.
///
/// The pickle is decoded by `TorchUnpickler`, which executes nothing and refuses any global outside its
/// allow-list. Tensors are named by their dict keys (nested dicts joined with "."); a top-level "state_dict" or
/// "model" entry holding a dict is unwrapped. Sizes, strides and storage offsets are honoured, so views and
/// non-contiguous tensors come out as their logical row-major values. Storages are read only when a tensor is asked for.
public struct TorchCheckpoint: TensorArchive {
    public let path: String
    public var formatName: String { "torch.save" }
    /// PyTorch modules store kernels (out, in, k...).
    public var kernelLayout: KernelLayout? { .channelsFirst }
    public let descriptors: [TensorDescriptor]
    private let url: URL
    /// Where the storages are: zip entries under a prefix, or byte ranges of a legacy file.
    private let storages: StorageLocation
    private let bigEndian: Bool
    private let references: [String: TorchTensorReference]

    private enum StorageLocation {
        case zip(prefix: String)
        case legacy([String: Range<Int>])
    }

    public init(contentsOf url: URL) throws(FormatError) {
        self.url = url
        let path = url.relativePath
        self.path = path
        let head = try FileAccess.mappedContents(of: url).prefix(2)
        let root: PickleValue
        var sizes: [String: UInt64] = [:]
        if head.count == 2, head.first == 0x80, head.last == 0x02 {
            let legacy = try Self.readLegacy(url)
            (root, bigEndian) = (legacy.root, legacy.bigEndian)
            storages = .legacy(legacy.ranges)
            for (key, range) in legacy.ranges { sizes[key] = UInt64(range.count) }
        } else {
            (root, bigEndian, storages, sizes) = try Self.readZip(url)
        }
        var named: [(String, TorchTensorReference)] = []
        try Self.collect(Self.unwrapped(root), name: root.isTensor ? url.deletingPathExtension().lastPathComponent : "",
                         into: &named, depth: 0, file: path)
        var descriptors: [TensorDescriptor] = []
        for (name, reference) in named {
            try Self.validate(reference, name: name, storageBytes: sizes[reference.storage.key], file: path)
            descriptors.append(TensorDescriptor(name: name, dtype: reference.storage.dtype, shape: reference.shape))
        }
        try checkUniqueNames(descriptors, file: path)
        self.descriptors = descriptors
        references = Dictionary(uniqueKeysWithValues: named)
    }

    /// The saved object, its byte order, where its storages are and their sizes in bytes, from a zip checkpoint.
    private static func readZip(_ url: URL) throws(FormatError)
        -> (root: PickleValue, bigEndian: Bool, storages: StorageLocation, sizes: [String: UInt64]) {
        let path = url.relativePath
        let archive = try ZipContainer.open(url, formatName: "torch.save")
        let entries = Array(archive)
        guard let pickleEntry = entries.first(where: { $0.path == "data.pkl" || $0.path.hasSuffix("/data.pkl") }) else {
            throw FormatError(.invalidHeader, file: path, "a zip archive without data.pkl is not a torch.save checkpoint")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        if entries.contains(where: { $0.path == prefix + "constants.pkl" || $0.path.hasPrefix(prefix + "code/") }) {
            throw FormatError(.unsupportedFeature, file: path,
                              "this is a TorchScript archive (torch.jit.save); save the state_dict with torch.save " +
                              "or export the model to ONNX")
        }
        var bigEndian = false
        if let orderEntry = entries.first(where: { $0.path == prefix + "byteorder" }) {
            let order = String(decoding: try ZipContainer.contents(of: orderEntry, in: archive, file: path, tensor: nil),
                               as: UTF8.self)
            guard order == "little" || order == "big" else {
                throw FormatError(.invalidHeader, file: path, "unknown byteorder '\(order)'")
            }
            bigEndian = order == "big"
        }

        var unpickler = TorchUnpickler(try ZipContainer.contents(of: pickleEntry, in: archive, file: path, tensor: nil),
                                       file: path)
        let root = try unpickler.load()
        var sizes: [String: UInt64] = [:]
        for entry in entries where entry.path.hasPrefix(prefix + "data/") {
            sizes[String(entry.path.dropFirst(prefix.count + 5))] = entry.uncompressedSize
        }
        return (root, bigEndian, .zip(prefix: prefix), sizes)
    }

    /// The legacy format's magic number, pickled (protocol 2, LONG1 of 10 bytes, STOP).
    private static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// The saved object, its byte order and each storage's byte range, from a legacy (pre-1.6) file.
    private static func readLegacy(_ url: URL) throws(FormatError) -> (root: PickleValue, bigEndian: Bool, ranges: [String: Range<Int>]) {
        let path = url.relativePath
        let data = try FileAccess.mappedContents(of: url)
        guard data.count > legacyMagic.count, Array(data.prefix(legacyMagic.count)) == legacyMagic else {
            throw FormatError(.invalidHeader, file: path, "a pickle that is not a torch.save checkpoint (no torch magic number)")
        }
        var unpickler = TorchUnpickler(data.dropFirst(legacyMagic.count), file: path, legacy: true)
        guard case .integer(1001) = try unpickler.loadNext() else {
            throw FormatError(.unsupportedFeature, file: path, "legacy torch.save protocol other than 1001")
        }
        guard case .dictionary(let info) = try unpickler.loadNext(),
              let order = info.entries.first(where: { if case .string("little_endian") = $0.key { true } else { false } }),
              case .bool(let littleEndian) = order.value else {
            throw FormatError(.invalidHeader, file: path, "the legacy header's system information has no byte order")
        }
        let root = try unpickler.loadNext()
        guard case .list(let keyList) = try unpickler.loadNext() else {
            throw FormatError(.invalidHeader, file: path, "the legacy file has no list of storage keys after the object")
        }
        var reader = ByteReader(data, file: path)
        _ = try reader.bytes(unpickler.position - data.startIndex, "the pickles")
        var ranges: [String: Range<Int>] = [:]
        for item in keyList.items {
            guard case .string(let key) = item, let storage = unpickler.storages[key], ranges[key] == nil else {
                throw FormatError(.invalidHeader, file: path, "the storage key list names a storage the object does not use")
            }
            let raw = try reader.integer(UInt64.self, "storage \(key)'s element count")
            let count = Int(truncatingIfNeeded: littleEndian ? raw : raw.byteSwapped)
            guard count == storage.elementCount, let byteCount = TensorDescriptor.checkedByteCount(shape: [count], dtype: storage.dtype) else {
                throw FormatError(.invalidHeader, file: path, "storage \(key) holds \(count) elements, its tensors say \(storage.elementCount)")
            }
            let start = reader.position - data.startIndex
            _ = try reader.bytes(byteCount, "storage \(key)")
            ranges[key] = start..<(start + byteCount)
        }
        return (root, !littleEndian, ranges)
    }

    /// A checkpoint dict's "state_dict" or "model" entry when it holds a dict; the object itself otherwise.
    private static func unwrapped(_ root: PickleValue) -> PickleValue {
        guard case .dictionary(let dictionary) = root else { return root }
        for wrapper in ["state_dict", "model"] {
            if let inner = dictionary.entries.first(where: { if case .string(wrapper) = $0.key { true } else { false } }),
               case .dictionary = inner.value {
                return inner.value
            }
        }
        return root
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let reference = references[name], let descriptor = descriptors.first(where: { $0.name == name }) else {
            throw missing(name)
        }
        var storage: Data
        switch storages {
        case .zip(let prefix):
            let archive = try ZipContainer.reopen(url, formatName: "torch.save")
            let storagePath = prefix + "data/" + reference.storage.key
            guard let entry = archive[storagePath] else {
                throw FormatError(.truncated, file: path, tensor: name, "its storage \(storagePath) is missing")
            }
            storage = try ZipContainer.contents(of: entry, in: archive, file: path, tensor: name)
        case .legacy(let ranges):
            let data = try FileAccess.mappedContents(of: url)
            guard let range = ranges[reference.storage.key], range.upperBound <= data.count else {
                throw FormatError(.truncated, file: path, tensor: name, "its storage \(reference.storage.key) is missing")
            }
            storage = Data(data[(data.startIndex + range.lowerBound)..<(data.startIndex + range.upperBound)])
        }
        let elementSize = reference.storage.dtype.byteSize
        if bigEndian { storage = ByteOrder.swapped(storage, elementSize: elementSize) }
        let data = ByteOrder.strided(storage, shape: reference.shape, strides: reference.strides,
                                     offset: reference.storageOffset, elementSize: elementSize)
        return StoredTensor(descriptor: descriptor, data: data)
    }

    /// Tensors in `value`, named by their keys joined with ".".
    private static func collect(
        _ value: PickleValue, name: String, into named: inout [(String, TorchTensorReference)], depth: Int, file: String
    ) throws(FormatError) {
        guard depth < 32 else { throw FormatError(.invalidHeader, file: file, "the saved object is nested too deeply") }
        let join = { (key: String) in name.isEmpty ? key : name + "." + key }
        switch value {
        case .tensor(let reference):
            named.append((name, reference))
        case .dictionary(let dictionary):
            for (key, item) in dictionary.entries {
                switch key {
                case .string(let text): try collect(item, name: join(text), into: &named, depth: depth + 1, file: file)
                case .integer(let number): try collect(item, name: join(String(number)), into: &named, depth: depth + 1, file: file)
                default: continue
                }
            }
        case .list(let list):
            for (index, item) in list.items.enumerated() {
                try collect(item, name: join(String(index)), into: &named, depth: depth + 1, file: file)
            }
        case .tuple(let items):
            for (index, item) in items.enumerated() {
                try collect(item, name: join(String(index)), into: &named, depth: depth + 1, file: file)
            }
        default:
            break  // numbers, strings and other plain values are not tensors
        }
    }

    /// The view must lie inside its storage, and the storage inside its zip entry.
    private static func validate(
        _ reference: TorchTensorReference, name: String, storageBytes: UInt64?, file: String
    ) throws(FormatError) {
        let dtype = reference.storage.dtype
        guard reference.strides.count == reference.shape.count, reference.strides.allSatisfy({ $0 >= 0 }),
              reference.storageOffset >= 0 else {
            throw FormatError(.invalidShape, file: file, tensor: name,
                              "size \(reference.shape), stride \(reference.strides) and offset \(reference.storageOffset) are inconsistent")
        }
        guard TensorDescriptor.checkedByteCount(shape: reference.shape, dtype: dtype) != nil,
              let storageByteCount = TensorDescriptor.checkedByteCount(shape: [reference.storage.elementCount], dtype: dtype) else {
            throw FormatError(.invalidShape, file: file, tensor: name, "size \(reference.shape) is negative or overflows")
        }
        if !reference.shape.contains(0) {
            var last = reference.storageOffset
            for (extent, stride) in zip(reference.shape, reference.strides) {
                let (step, overflow1) = (extent - 1).multipliedReportingOverflow(by: stride)
                let (sum, overflow2) = last.addingReportingOverflow(step)
                guard !overflow1, !overflow2 else {
                    throw FormatError(.invalidShape, file: file, tensor: name, "its strides overflow")
                }
                last = sum
            }
            guard last < reference.storage.elementCount else {
                throw FormatError(.invalidOffsets, file: file, tensor: name,
                                  "the view reaches element \(last) of a \(reference.storage.elementCount)-element storage")
            }
        }
        guard let storageBytes else {
            throw FormatError(.truncated, file: file, tensor: name, "its storage data/\(reference.storage.key) is missing")
        }
        guard storageBytes >= UInt64(storageByteCount) else {
            throw FormatError(.truncated, file: file, tensor: name,
                              "storage data/\(reference.storage.key) has \(storageBytes) bytes, needs \(storageByteCount)")
        }
    }
}

extension PickleValue {
    var isTensor: Bool { if case .tensor = self { true } else { false } }
}

import Foundation
import ZIPFoundation

/// A `torch.save` checkpoint in the zip format PyTorch has written since 1.6 (`pytorch_model.bin`, `*.pt`,
/// `*.pth`): `PREFIX/data.pkl` (a pickle of the saved object whose tensors point at storages by persistent id),
/// `PREFIX/data/KEY` (the raw storages), and `PREFIX/byteorder`.
///
/// The pickle is decoded by ``TorchUnpickler``, which executes nothing and refuses any global outside its
/// allow-list. Tensors are named by their dict keys (nested dicts joined with "."); a top-level "state_dict" or
/// "model" entry holding a dict is unwrapped. Sizes, strides and storage offsets are honoured, so views and
/// non-contiguous tensors come out as their logical row-major values. Storages are read only when a tensor is asked for.
public struct TorchCheckpoint: TensorArchive {
    public let path: String
    public var formatName: String { "torch.save" }
    public let descriptors: [TensorDescriptor]
    private let url: URL
    private let prefix: String
    private let bigEndian: Bool
    private let references: [String: TorchTensorReference]

    public init(contentsOf url: URL) throws(FormatError) {
        self.url = url
        let path = url.relativePath
        self.path = path
        try Self.rejectLegacyFormat(url)
        let archive = try ZipContainer.open(url, formatName: "torch.save")
        let entries = Array(archive)
        guard let pickleEntry = entries.first(where: { $0.path == "data.pkl" || $0.path.hasSuffix("/data.pkl") }) else {
            throw FormatError(.invalidHeader, file: path, "a zip archive without data.pkl is not a torch.save checkpoint")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        self.prefix = prefix
        if entries.contains(where: { $0.path == prefix + "constants.pkl" || $0.path.hasPrefix(prefix + "code/") }) {
            throw FormatError(.unsupportedFeature, file: path,
                              "this is a TorchScript archive (torch.jit.save); save the state_dict with torch.save " +
                              "or export the model to ONNX")
        }
        if let orderEntry = entries.first(where: { $0.path == prefix + "byteorder" }) {
            let order = String(decoding: try ZipContainer.contents(of: orderEntry, in: archive, file: path, tensor: nil),
                               as: UTF8.self)
            guard order == "little" || order == "big" else {
                throw FormatError(.invalidHeader, file: path, "unknown byteorder '\(order)'")
            }
            bigEndian = order == "big"
        } else {
            bigEndian = false
        }

        var unpickler = TorchUnpickler(try ZipContainer.contents(of: pickleEntry, in: archive, file: path, tensor: nil),
                                       file: path)
        var root = try unpickler.load()
        if case .dictionary(let dictionary) = root {
            for wrapper in ["state_dict", "model"] {
                if let inner = dictionary.entries.first(where: { if case .string(wrapper) = $0.key { true } else { false } }),
                   case .dictionary = inner.value {
                    root = inner.value
                    break
                }
            }
        }
        var named: [(String, TorchTensorReference)] = []
        try Self.collect(root, name: root.isTensor ? url.deletingPathExtension().lastPathComponent : "",
                         into: &named, depth: 0, file: path)
        var sizes: [String: UInt64] = [:]
        for entry in entries where entry.path.hasPrefix(prefix + "data/") {
            sizes[String(entry.path.dropFirst(prefix.count + 5))] = entry.uncompressedSize
        }
        var descriptors: [TensorDescriptor] = []
        for (name, reference) in named {
            try Self.validate(reference, name: name, storageBytes: sizes[reference.storage.key], file: path)
            descriptors.append(TensorDescriptor(name: name, dtype: reference.storage.dtype, shape: reference.shape))
        }
        try checkUniqueNames(descriptors, file: path)
        self.descriptors = descriptors
        references = Dictionary(uniqueKeysWithValues: named)
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let reference = references[name], let descriptor = descriptors.first(where: { $0.name == name }) else {
            throw missing(name)
        }
        let archive = try ZipContainer.open(url, formatName: "torch.save")
        let storagePath = prefix + "data/" + reference.storage.key
        guard let entry = archive[storagePath] else {
            throw FormatError(.truncated, file: path, tensor: name, "its storage \(storagePath) is missing")
        }
        var storage = try ZipContainer.contents(of: entry, in: archive, file: path, tensor: name)
        let elementSize = reference.storage.dtype.byteSize
        if bigEndian { storage = ByteOrder.swapped(storage, elementSize: elementSize) }
        let data = ByteOrder.strided(storage, shape: reference.shape, strides: reference.strides,
                                     offset: reference.storageOffset, elementSize: elementSize)
        return StoredTensor(descriptor: descriptor, data: data)
    }

    /// Files from before PyTorch 1.6 start with a pickle (0x80, protocol 2), not a zip header.
    private static func rejectLegacyFormat(_ url: URL) throws(FormatError) {
        let head = try FileAccess.mappedContents(of: url).prefix(2)
        if head.count == 2, head.first == 0x80, head.last == 0x02 {
            throw FormatError(.unsupportedFeature, file: url.relativePath,
                              "legacy (pre-1.6, non-zip) torch.save format; re-save it with a current PyTorch: " +
                              "torch.save(torch.load(path, weights_only=True), new_path)")
        }
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

import Foundation
import Reporting

/// Opens any supported weight or data file, or a directory of them.
public enum WeightFile {
    /// The formats `open(_:)` recognises, by file extension.
    public static let supportedExtensions = ["safetensors", "bin", "pt", "pth", "onnx", "npy", "npz", "h5", "hdf5"]

    /// Opens `url` as a tensor archive: a file by its extension, an `*.index.json` as a sharded checkpoint,
    /// a directory by ``discover(in:)``.
    public static func open(_ url: URL) throws(FormatError) -> any TensorArchive {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw FormatError(.unreadable, file: url.relativePath, "no such file or directory")
        }
        if isDirectory.boolValue { return try discover(in: url) }
        if url.lastPathComponent.hasSuffix(".index.json") { return try CombinedArchive.sharded(index: url) }
        switch url.pathExtension.lowercased() {
        case "safetensors": return try SafetensorsFile(contentsOf: url)
        case "bin", "pt", "pth": return try TorchCheckpoint(contentsOf: url)
        case "onnx": return try ONNXModel(contentsOf: url)
        case "npy": return try NumPyFile(contentsOf: url)
        case "npz": return try NumPyArchive(contentsOf: url)
        case "h5", "hdf5": return try HDF5Archive(contentsOf: url)
        default:
            throw FormatError(.unsupportedFeature, file: url.relativePath,
                              "unrecognised file type (supported: \(supportedExtensions.map { "." + $0 }.joined(separator: ", ")), " +
                              "*.index.json, or a directory)")
        }
    }

    /// The weight files of a directory, found as WeightWatcher finds them: the first of these patterns that
    /// matches any file wins, and all its matches (sorted by name) are read together: `model*.safetensors`
    /// (through `model.safetensors.index.json` when present), `adapter_model*.safetensors`, `pytorch_model*.bin`
    /// (through its index when present), `adapter_model*.bin`, `*weight*.npy`. After WeightWatcher's patterns come
    /// any other supported files, which must then be the only kind present.
    public static func discover(in directory: URL) throws(FormatError) -> any TensorArchive {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw FormatError(.unreadable, file: directory.relativePath, "cannot list the directory: \(OutputFile.describe(error))")
        }
        func matching(_ prefix: String, _ suffix: String) -> [String] {
            names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
        }
        let patterns: [(files: [String], index: String?)] = [
            (matching("model", ".safetensors"), "model.safetensors.index.json"),
            (matching("adapter_model", ".safetensors"), nil),
            (matching("pytorch_model", ".bin"), "pytorch_model.bin.index.json"),
            (matching("adapter_model", ".bin"), nil),
            (names.filter { $0.hasSuffix(".npy") && $0.contains("weight") }, nil),
        ]
        for (files, index) in patterns where !files.isEmpty {
            if let index, names.contains(index) {
                return try CombinedArchive.sharded(index: directory.appendingPathComponent(index))
            }
            return try combine(files, in: directory)
        }
        let supported = names.filter { supportedExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
        guard !supported.isEmpty else {
            throw FormatError(.missingTensor, file: directory.relativePath,
                              "no weight files in the directory (looked for model*.safetensors, pytorch_model*.bin, " +
                              "\(supportedExtensions.map { "*." + $0 }.joined(separator: ", ")))")
        }
        return try combine(supported, in: directory)
    }

    private static func combine(_ files: [String], in directory: URL) throws(FormatError) -> any TensorArchive {
        var parts: [any TensorArchive] = []
        for file in files { parts.append(try open(directory.appendingPathComponent(file))) }
        if parts.count == 1 { return parts[0] }
        let formats = Set(parts.map(\.formatName))
        return try CombinedArchive(path: directory.relativePath,
                                   formatName: formats.count == 1 ? "\(parts.count) \(formats.first!) files" : "\(parts.count) files",
                                   parts: parts)
    }
}

/// What `curvature info` reports about a file: its tensors and their totals.
public struct ArchiveSummary: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var elementCount: Int
        public var byteCount: Int
    }

    /// The summary's layout version; it changes when a key changes meaning or is renamed.
    public static let formatVersion = 1
    public var version = formatVersion
    public var file: String
    public var format: String
    /// Present for ONNX models: opsets, operators used, inputs and outputs.
    public var graph: ONNXGraphSummary?
    public var tensors: [Entry]
    public var tensorCount: Int
    public var elementCount: Int
    public var byteCount: Int

    public init(_ archive: any TensorArchive) {
        file = archive.path
        format = archive.formatName
        graph = (archive as? ONNXModel)?.graphSummary
        tensors = archive.descriptors.map {
            Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, elementCount: $0.elementCount, byteCount: $0.byteCount)
        }
        tensorCount = tensors.count
        elementCount = tensors.reduce(0) { $0 + $1.elementCount }
        byteCount = tensors.reduce(0) { $0 + $1.byteCount }
    }
}

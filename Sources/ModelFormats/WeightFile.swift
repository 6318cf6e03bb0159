import Foundation

/// Opens any supported weight or data file by its extension.
public enum WeightFile {
    /// The formats `open(_:)` recognises, by file extension.
    public static let supportedExtensions = ["npy", "npz"]

    /// Opens `url` as a tensor archive, choosing the reader by extension.
    public static func open(_ url: URL) throws(FormatError) -> any TensorArchive {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw FormatError(.unreadable, file: url.relativePath, "no such file or directory")
        }
        switch url.pathExtension.lowercased() {
        case "npy": return try NumPyFile(contentsOf: url)
        case "npz": return try NumPyArchive(contentsOf: url)
        default:
            throw FormatError(.unsupportedFeature, file: url.relativePath,
                              "unrecognised file type (supported: \(supportedExtensions.map { "." + $0 }.joined(separator: ", ")))")
        }
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

    public var file: String
    public var format: String
    public var tensors: [Entry]
    public var tensorCount: Int
    public var elementCount: Int
    public var byteCount: Int

    public init(_ archive: any TensorArchive) {
        file = archive.path
        format = archive.formatName
        tensors = archive.descriptors.map {
            Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, elementCount: $0.elementCount, byteCount: $0.byteCount)
        }
        tensorCount = tensors.count
        elementCount = tensors.reduce(0) { $0 + $1.elementCount }
        byteCount = tensors.reduce(0) { $0 + $1.byteCount }
    }
}

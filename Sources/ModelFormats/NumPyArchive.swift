import Foundation
import Reporting
import ZIPFoundation

/// A single .npy file as an archive of one tensor, named after the file.
public struct NumPyFile: TensorArchive {
    public let path: String
    public var formatName: String { "npy" }
    public let descriptors: [TensorDescriptor]
    private let url: URL

    public init(contentsOf url: URL) throws(FormatError) {
        self.url = url
        path = url.relativePath
        let contents = try FileAccess.mappedContents(of: url)
        let header = try NumPyFormat.header(of: contents, file: url.relativePath, name: nil)
        descriptors = [try NumPyFormat.checkDataLength(of: contents, header: header, name: url.deletingPathExtension().lastPathComponent,
                                                       file: url.relativePath)]
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard name == descriptors[0].name else { throw missing(name) }
        return try NumPyFormat.read(contentsOf: url)
    }
}

/// A NumPy .npz archive: a zip file of .npy entries, stored or deflate-compressed (`numpy.savez`,
/// `numpy.savez_compressed`). Tensors are named after their entries without the ".npy" suffix.
///
/// Inflation is bounded: an entry whose declared size disagrees with its .npy header, exceeds
/// `maximumEntryBytes`, or inflates past its declared size is refused as a compression bomb before memory
/// is spent on it.
public struct NumPyArchive: TensorArchive {
    public let path: String
    public var formatName: String { "npz" }
    public let descriptors: [TensorDescriptor]
    private let url: URL

    /// The default for the largest inflated entry accepted: half the machine's memory.
    public static let defaultMaximumEntryBytes = Int(min(ProcessInfo.processInfo.physicalMemory / 2, UInt64(Int.max)))

    /// Opens an archive and reads every entry's .npy header (inflating only the header bytes).
    /// - Parameters:
    ///   - url: the .npz file.
    ///   - maximumEntryBytes: entries declaring more inflated bytes than this are refused.
    public init(contentsOf url: URL, maximumEntryBytes: Int = defaultMaximumEntryBytes) throws(FormatError) {
        self.url = url
        path = url.relativePath
        let archive = try ZipContainer.open(url, formatName: ".npz")
        var descriptors: [TensorDescriptor] = []
        for entry in archive where entry.type == .file {
            let name = Self.tensorName(of: entry)
            let headerBytes = try ZipContainer.prefix(
                of: entry, in: archive, file: path, tensor: name, limit: NumPyFormat.maximumHeaderLength + 16
            ) { bytes in bytes.count >= 12 && bytes.count >= Self.headerLength(bytes) }
            let header = try NumPyFormat.header(of: headerBytes, file: path, name: name)
            let descriptor = TensorDescriptor(name: name, dtype: header.dtype, shape: header.shape)
            let expected = header.dataOffset + descriptor.byteCount
            guard entry.uncompressedSize == UInt64(expected) else {
                throw FormatError(.compressionBomb, file: path, tensor: name,
                                  "the zip entry declares \(entry.uncompressedSize) bytes but its .npy header " +
                                  "describes \(expected)")
            }
            guard expected <= maximumEntryBytes else {
                throw FormatError(.compressionBomb, file: path, tensor: name,
                                  "the entry inflates to \(expected) bytes, over the limit of \(maximumEntryBytes)")
            }
            descriptors.append(descriptor)
        }
        try checkUniqueNames(descriptors, file: path)
        self.descriptors = descriptors
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        let archive = try ZipContainer.reopen(url, formatName: ".npz")
        guard let entry = archive.first(where: { $0.type == .file && Self.tensorName(of: $0) == name }) else {
            throw missing(name)
        }
        return try NumPyFormat.decode(try ZipContainer.contents(of: entry, in: archive, file: path, tensor: name),
                                      name: name, file: path)
    }

    /// Writes tensors as an .npz archive, deflate-compressed (`savez_compressed`) or stored (`savez`).
    public static func write(_ tensors: [StoredTensor], to url: URL, compressed: Bool = true) throws(FormatError) {
        try checkUniqueNames(tensors.map(\.descriptor), file: url.relativePath)
        try? FileManager.default.removeItem(at: url)
        do {
            let archive = try Archive(url: url, accessMode: .create)
            for tensor in tensors {
                let bytes = try NumPyFormat.encode(tensor)
                try archive.addEntry(with: tensor.name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError(.unreadable, file: url.relativePath, "cannot write the archive: \(OutputFile.describe(error))")
        }
    }

    private static func tensorName(of entry: Entry) -> String {
        let path = entry.path
        return path.hasSuffix(".npy") ? String(path.dropLast(4)) : path
    }

    /// The total length of magic, version, length field and header, once enough bytes are known.
    private static func headerLength(_ bytes: Data) -> Int {
        let start = bytes.startIndex
        switch bytes[start + 6] {
        case 1: return 10 + Int(bytes[start + 8]) | Int(bytes[start + 9]) << 8
        case 2, 3:
            return 12 + (0..<4).reduce(0) { $0 | Int(bytes[start + 8 + $1]) << (8 * $1) }
        default: return 0
        }
    }
}

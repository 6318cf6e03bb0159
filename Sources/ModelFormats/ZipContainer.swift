import Foundation
import ZIPFoundation

/// Bounded reads from zip archives (npz, torch.save). An entry never inflates past the size its headers declare,
/// so a compression bomb costs at most the memory it claims up front, which callers check against a limit first.
enum ZipContainer {
    private struct Overrun: Error {}
    private struct Enough: Error {}

    static func open(_ url: URL, formatName: String) throws(FormatError) -> Archive {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw FormatError(.unreadable, file: url.relativePath, "cannot read: no such file or permission denied")
        }
        do {
            return try Archive(url: url, accessMode: .read)
        } catch {
            throw FormatError(.invalidHeader, file: url.relativePath, "not a valid \(formatName) (zip) archive")
        }
    }

    /// The whole entry, which must inflate to exactly its declared size.
    static func contents(of entry: Entry, in archive: Archive, file: String, tensor: String?) throws(FormatError) -> Data {
        guard entry.uncompressedSize <= UInt64(Int.max) else {
            throw FormatError(.compressionBomb, file: file, tensor: tensor, "the zip entry declares an impossible size")
        }
        let size = Int(entry.uncompressedSize)
        var contents = Data()
        contents.reserveCapacity(size)
        do {
            _ = try archive.extract(entry) { chunk in
                guard contents.count + chunk.count <= size else { throw Overrun() }
                contents.append(chunk)
            }
        } catch is Overrun {
            throw FormatError(.compressionBomb, file: file, tensor: tensor,
                              "the zip entry \(entry.path) inflates past its declared \(size) bytes")
        } catch {
            throw FormatError(.truncated, file: file, tensor: tensor,
                              "the zip entry \(entry.path) is corrupt or truncated")
        }
        guard contents.count == size else {
            throw FormatError(.truncated, file: file, tensor: tensor,
                              "the zip entry \(entry.path) holds \(contents.count) bytes, not the declared \(size)")
        }
        return contents
    }

    /// The first bytes of an entry, inflating no more than `isEnough` needs (or `limit` bytes).
    static func prefix(
        of entry: Entry, in archive: Archive, file: String, tensor: String?, limit: Int, isEnough: (Data) -> Bool
    ) throws(FormatError) -> Data {
        var bytes = Data()
        do {
            _ = try archive.extract(entry, bufferSize: 4096) { chunk in
                bytes.append(chunk)
                if bytes.count >= limit || isEnough(bytes) { throw Enough() }
            }
        } catch is Enough {
        } catch {
            throw FormatError(.truncated, file: file, tensor: tensor, "the zip entry \(entry.path) is corrupt or truncated")
        }
        return bytes
    }
}

import Foundation
import ZIPFoundation

/// Bounded, checked reads from zip archives (npz, torch.save). An entry never inflates past the size its headers
/// declare, so a compression bomb costs at most the memory it claims up front, which callers check against a limit
/// first. Every entry read whole is checked against its CRC-32, and an archive whose central directory yields fewer
/// entries than its end record declares is refused: one flipped bit must not become a silently wrong tensor or a
/// silently missing one.
enum ZipContainer {
    private struct Overrun: Error {}
    private struct Enough: Error {}

    /// Opens an archive and checks its central directory against the count its end record declares.
    static func open(_ url: URL, formatName: String) throws(FormatError) -> Archive {
        let archive = try reopen(url, formatName: formatName)
        if let declared = try declaredEntryCount(url) {
            let found = archive.reduce(0) { count, _ in count + 1 }
            guard found == declared else {
                throw FormatError(.corrupt, file: url.relativePath,
                                  "the zip's central directory declares \(declared) entries but \(found) could be read: the file is damaged")
            }
        }
        return archive
    }

    /// Opens an archive that ``open(_:formatName:)`` has already checked, to read one entry.
    static func reopen(_ url: URL, formatName: String) throws(FormatError) -> Archive {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw FormatError(.unreadable, file: url.relativePath, "cannot read: no such file or permission denied")
        }
        do {
            return try Archive(url: url, accessMode: .read)
        } catch {
            throw FormatError(.invalidHeader, file: url.relativePath, "not a valid \(formatName) (zip) archive")
        }
    }

    /// The entry count the end-of-central-directory record declares, or nil where it defers to a zip64 record.
    private static func declaredEntryCount(_ url: URL) throws(FormatError) -> Int? {
        let contents = try FileAccess.mappedContents(of: url)
        // The record is 22 bytes plus a comment of at most 65535; search backwards for its signature.
        let signature: [UInt8] = [0x50, 0x4b, 0x05, 0x06]
        guard contents.count >= 22 else { return nil }
        let lowest = max(0, contents.count - 22 - 65535)
        return contents.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int? in
            var offset = contents.count - 22
            while offset >= lowest {
                if raw[offset] == signature[0], raw[offset + 1] == signature[1], raw[offset + 2] == signature[2], raw[offset + 3] == signature[3] {
                    let total = Int(raw[offset + 10]) | Int(raw[offset + 11]) << 8
                    return total == 0xffff ? nil : total
                }
                offset -= 1
            }
            return nil
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
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry) { chunk in
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
        guard checksum == entry.checksum else {
            throw FormatError(.corrupt, file: file, tensor: tensor,
                              "the zip entry \(entry.path) fails its CRC-32 check (stored \(hex(entry.checksum)), computed \(hex(checksum))): " +
                              "the file is damaged")
        }
        return contents
    }

    private static func hex(_ value: CRC32) -> String { "0x" + String(value, radix: 16) }

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

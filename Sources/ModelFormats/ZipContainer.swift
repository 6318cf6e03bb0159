import Foundation
import ZIPFoundation
import Reporting

/// Bounded, checked reads from zip archives (npz, torch.save). An entry never inflates past the size its headers
/// declare, so a compression bomb costs at most the memory it claims up front, which callers check against a limit
/// first. Every entry read whole is checked against its CRC-32, and an archive whose central directory yields fewer
/// entries than its end record declares is refused: one flipped bit must not become a silently wrong tensor or a
/// silently missing one.
enum ZipContainer {
    private struct Overrun: Error {}
    private struct Enough: Error {}

    /// Opens an archive after walking its central directory (``checkCentralDirectory(_:file:)``).
    static func open(_ url: URL, formatName: String) throws(FormatError) -> Archive {
        try checkCentralDirectory(FileAccess.mappedContents(of: url), file: url.relativePath)
        return try reopen(url, formatName: formatName)
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

    /// Walks the central directory before ZIPFoundation does, finding it as ZIPFoundation will: every record must
    /// lie inside the file, every local header offset must point inside it, zip64 values must fit in an Int64
    /// (ZIPFoundation traps on larger ones), and the records found must number what the end record declares (a
    /// damaged directory would otherwise drop entries silently). A file with no end record is left for the zip reader
    /// to refuse.
    static func checkCentralDirectory(_ contents: Data, file: String) throws(FormatError) {
        func damaged(_ reason: String) -> FormatError { FormatError(.corrupt, file: file, "the zip's central directory is damaged: \(reason)") }
        let size = contents.count
        // Data.withUnsafeBytes rethrows untyped errors: the walk hands its FormatError out as a value.
        let failure = contents.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> FormatError? in
            do throws(FormatError) { try walk(raw) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        func walk(_ raw: UnsafeRawBufferPointer) throws(FormatError) {
            func read(_ offset: Int, _ width: Int) -> UInt64 {
                (0..<width).reduce(UInt64(0)) { $0 | UInt64(raw[offset + $1]) << (8 * UInt64($1)) }
            }
            func signature(_ offset: Int, _ value: UInt64) -> Bool { offset >= 0 && offset + 4 <= size && read(offset, 4) == value }
            // The end record is 22 bytes plus a comment; search backwards for its signature over the whole file, as
            // ZIPFoundation does (a valid comment is at most 65535 bytes, but the reader looks further).
            guard size >= 22 else { return }
            var end = size - 22
            while end >= 0, !signature(end, 0x06054b50) { end -= 1 }
            guard end >= 0 else { return }
            var declared = read(end + 10, 2), directorySize = read(end + 12, 4), directoryOffset = read(end + 16, 4)
            // ZIPFoundation takes the zip64 values whenever a zip64 locator sits just before the end record and a
            // zip64 end record (version needed 4.5 or later) just before that, whatever the 32-bit fields say.
            let record = end - 20 - 56
            if record > 0, signature(end - 20, 0x07064b50), signature(record, 0x06064b50), read(record + 14, 2) >= 45 {
                (declared, directorySize, directoryOffset) = (read(record + 32, 8), read(record + 40, 8), read(record + 48, 8))
            } else if declared == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
                throw damaged("a zip64 field has no zip64 end record before the end record")
            }
            guard directoryOffset <= UInt64(size), directorySize <= UInt64(size) - directoryOffset else {
                throw damaged("it claims \(directorySize) bytes at offset \(directoryOffset) in a file of \(size)")
            }
            guard declared <= directorySize / 46 + 1 else { throw damaged("\(declared) entries cannot fit in \(directorySize) bytes") }
            var offset = Int(directoryOffset)
            for index in 0..<Int(declared) {
                guard offset + 46 <= size, signature(offset, 0x02014b50) else {
                    throw damaged("it declares \(declared) entries but entry \(index) is not where it should be")
                }
                let nameLength = Int(read(offset + 28, 2)), extraLength = Int(read(offset + 30, 2)), commentLength = Int(read(offset + 32, 2))
                let next = offset + 46 + nameLength + extraLength + commentLength
                guard next <= size else { throw damaged("entry \(index) runs past the end of the file") }
                var sizes = [read(offset + 24, 4), read(offset + 20, 4)], headerOffset = read(offset + 42, 4)
                // The zip64 extra field holds, in order, those of the two sizes and the offset whose 32-bit field is all ones.
                var field = offset + 46 + nameLength
                while field + 4 <= offset + 46 + nameLength + extraLength {
                    let id = read(field, 2), length = Int(read(field + 2, 2))
                    guard field + 4 + length <= offset + 46 + nameLength + extraLength else { throw damaged("entry \(index) has a truncated extra field") }
                    if id == 0x0001 {
                        var cursor = field + 4
                        func next64() throws(FormatError) -> UInt64 {
                            guard cursor + 8 <= field + 4 + length else { throw damaged("entry \(index) has a short zip64 field") }
                            defer { cursor += 8 }
                            return read(cursor, 8)
                        }
                        for k in sizes.indices where sizes[k] == 0xffff_ffff { sizes[k] = try next64() }
                        if headerOffset == 0xffff_ffff { headerOffset = try next64() }
                    }
                    field += 4 + length
                }
                guard sizes.allSatisfy({ $0 <= UInt64(Int64.max) }), sizes[1] <= UInt64(size), headerOffset <= UInt64(size - 30) else {
                    throw damaged("entry \(index) points outside the file (local header at \(headerOffset), \(sizes[1]) bytes stored)")
                }
                guard signature(Int(headerOffset), 0x04034b50) else { throw damaged("entry \(index) has no local header at offset \(headerOffset)") }
                offset = next
            }
        }
    }

    /// The whole entry, which must inflate to exactly its declared size.
    static func contents(of entry: Entry, in archive: Archive, file: String, tensor: String?) throws(FormatError) -> Data {
        guard entry.uncompressedSize <= UInt64(Int.max) else {
            throw FormatError(.compressionBomb, file: file, tensor: tensor, "the zip entry declares an impossible size")
        }
        // Deflate gives at most 1032 bytes per compressed byte (stored entries give one): a larger declared size is a
        // lie, refused before any memory is reserved for it.
        let (bound, overflow) = UInt64(entry.compressedSize).multipliedReportingOverflow(by: 1032)
        guard overflow || entry.uncompressedSize <= bound + 1024 else {
            throw FormatError(.compressionBomb, file: file, tensor: tensor,
                              "the zip entry \(entry.path) declares \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed, more than deflate can give")
        }
        let size = Int(entry.uncompressedSize)
        do { try MemoryBudget.machine.check([size], bytesEach: 1, for: "the zip entry \(entry.path)") } catch {
            throw FormatError(.compressionBomb, file: file, tensor: tensor, error.description)
        }
        var contents = Data()
        // Reserved up to a bound and grown past it, so a size the data never reaches costs nothing.
        contents.reserveCapacity(min(size, 1 << 26))
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

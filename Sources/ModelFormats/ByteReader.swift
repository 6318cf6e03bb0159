import Foundation

/// Bounds-checked sequential reads over bytes: every read past the end throws `FormatError.truncated`
/// naming the file, so no parser indexes outside its input.
struct ByteReader {
    let data: Data
    let file: String
    private(set) var position: Int

    init(_ data: Data, file: String) {
        self.data = data
        self.file = file
        self.position = data.startIndex
    }

    var remaining: Int { data.endIndex - position }

    private func truncated(_ what: String, _ count: Int) -> FormatError {
        FormatError(.truncated, file: file,
                    "file is truncated: \(what) needs \(count) bytes at offset \(position - data.startIndex), " +
                    "only \(remaining) remain")
    }

    mutating func bytes(_ count: Int, _ what: String) throws(FormatError) -> Data {
        guard count >= 0, count <= remaining else { throw truncated(what, count) }
        defer { position += count }
        return data[position..<(position + count)]
    }

    mutating func byte(_ what: String) throws(FormatError) -> UInt8 {
        guard remaining >= 1 else { throw truncated(what, 1) }
        defer { position += 1 }
        return data[position]
    }

    /// A little-endian fixed-width integer.
    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(what, size) }
        var value: T = 0
        for i in 0..<size { value |= T(truncatingIfNeeded: data[position + i]) << (8 * i) }
        position += size
        return value
    }
}

import Foundation

/// Where a reader's bytes come from: memory, or a file read with positioned reads (`pread`).
///
/// Files are read, not memory-mapped: only the requested range is resident (one tensor at a time), and a file
/// that shrinks while open gives a `truncated` error instead of a SIGBUS crash.
enum ByteSource: Sendable {
    case memory(Data)
    case file(path: String, displayName: String, size: Int)

    static func open(_ url: URL) throws(FormatError) -> ByteSource {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = (attributes[.size] as? NSNumber)?.intValue else {
            throw FormatError(.unreadable, file: url.relativePath, "cannot read: no such file or permission denied")
        }
        return .file(path: url.path, displayName: url.relativePath, size: size)
    }

    var count: Int {
        switch self {
        case .memory(let data): data.count
        case .file(_, _, let size): size
        }
    }

    /// The bytes in `range`, which the caller has checked lies within `count`.
    func read(_ range: Range<Int>) throws(FormatError) -> Data {
        switch self {
        case .memory(let data):
            return Data(data[(data.startIndex + range.lowerBound)..<(data.startIndex + range.upperBound)])
        case .file(let path, let displayName, _):
            let descriptor = Foundation.open(path, O_RDONLY)
            guard descriptor >= 0 else {
                throw FormatError(.unreadable, file: displayName, "cannot open: \(String(cString: strerror(errno)))")
            }
            defer { close(descriptor) }
            // Uninitialised memory: pread overwrites all of it, so zero-filling first would cost a second pass.
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, range.count), alignment: 64)
            var done = 0
            var failure: String?
            while done < range.count {
                let n = pread(descriptor, buffer + done, range.count - done, off_t(range.lowerBound + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if n == 0 {
                    failure = "the file ended at byte \(range.lowerBound + done); was it truncated while open?"
                    break
                }
                done += n
            }
            if failure != nil { buffer.deallocate() }
            if let failure { throw FormatError(.truncated, file: displayName, "cannot read: \(failure)") }
            return Data(bytesNoCopy: buffer, count: range.count, deallocator: .custom { pointer, _ in pointer.deallocate() })
        }
    }
}

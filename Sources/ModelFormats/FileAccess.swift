import Foundation
import Reporting

/// File reads and writes that report `FormatError` naming the file.
enum FileAccess {
    /// The file's bytes, memory-mapped so large files are paged in only as they are touched.
    static func mappedContents(of url: URL) throws(FormatError) -> Data {
        do {
            return try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FormatError(.unreadable, file: url.relativePath, "cannot read: \(OutputFile.describe(error))")
        }
    }

    static func write(_ data: Data, to url: URL) throws(FormatError) {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw FormatError(.unreadable, file: url.relativePath, "cannot write: \(OutputFile.describe(error))")
        }
    }

    /// Writes `chunks` one after another to a new file, without joining them in memory.
    static func write(chunks: [Data], to url: URL) throws(FormatError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        do {
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw FormatError(.unreadable, file: url.relativePath, "cannot create a file in its directory")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            for chunk in chunks { try handle.write(contentsOf: chunk) }
            try handle.synchronize()
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: temporary, to: url)
        } catch let error as FormatError {
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw FormatError(.unreadable, file: url.relativePath, "cannot write: \(OutputFile.describe(error))")
        }
    }
}

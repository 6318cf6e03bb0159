import Foundation

/// An error that is its message: one line naming the file, option or setting and what is wrong. The analyses and
/// the CLI throw it where no caller needs to tell failures apart.
public struct MessageError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Output files written whole or not at all.
public enum OutputFile {
    /// Writes through `body` to a unique temporary name beside `path`, then renames it over `path`: a reader never
    /// sees a half-written file, an interruption leaves the old file whole, and a failed write leaves nothing under
    /// either name. `option` (the CLI option that named the file, if any) starts the message.
    public static func write(to path: String, option: String? = nil, _ body: (URL) throws -> Void) throws(MessageError) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).partial")
        do {
            try body(temporary)
            guard rename(temporary.path, path) == 0 else { throw MessageError(String(cString: strerror(errno))) }
        } catch {
            unlink(temporary.path)
            let folder = url.deletingLastPathComponent().path
            let reason = FileManager.default.fileExists(atPath: folder) ? describe(error) : "the directory \(folder) does not exist"
            throw MessageError("\(option.map { $0 + " " } ?? "")cannot write \(path): \(reason)")
        }
    }

    /// Writes `text` as UTF-8 to `path`, whole or not at all.
    public static func write(_ text: String, to path: String, option: String? = nil) throws(MessageError) {
        try write(to: path, option: option) { try Data(text.utf8).write(to: $0) }
    }

    /// Creates the directory `path` (and its parents) if it is missing.
    public static func directory(_ path: String, option: String? = nil) throws(MessageError) -> URL {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            // Foundation says only "error 512" when a component is a file: name that component instead.
            var prefix = URL(fileURLWithPath: path), isDirectory: ObjCBool = false
            while prefix.path != "/" && !FileManager.default.fileExists(atPath: prefix.path, isDirectory: &isDirectory) {
                prefix.deleteLastPathComponent()
            }
            let reason = isDirectory.boolValue ? describe(error) : "\(prefix.path) is not a directory"
            throw MessageError("\(option.map { $0 + " " } ?? "")\(path): cannot create the directory: \(reason)")
        }
        return URL(fileURLWithPath: path)
    }

    /// A file error as a short reason, without Foundation's long boilerplate: the underlying POSIX reason where
    /// there is one, and a project error's own message.
    public static func describe(_ error: any Error) -> String {
        if let message = error as? MessageError { return message.description }
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(nsError.code))) }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
            default: return nsError.localizedDescription
            }
        }
        return error is LocalizedError ? nsError.localizedDescription : "\(error)"
    }
}

import Reporting

/// Why a weight or data file could not be read. Every reader throws this, naming the file and, where one is
/// involved, the tensor; nothing below the CLI prints or exits.
public struct FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable
        /// The file ends before the data its header promises.
        case truncated
        /// The header is malformed: bad magic, bad length, bad syntax, missing fields.
        case invalidHeader
        /// An element type the format or this reader does not support.
        case unsupportedDType
        /// A negative extent, or a shape whose byte size overflows.
        case invalidShape
        /// A data range outside the file, overlapping another, or of the wrong size.
        case invalidOffsets
        /// The same tensor name appears twice.
        case duplicateName
        /// A compressed entry that inflates past its declared or allowed size.
        case compressionBomb
        /// A pickle that asks for a global outside the allow-list, or an opcode a checkpoint never needs.
        case refusedPickle
        /// A feature of the format this reader does not handle.
        case unsupportedFeature
        /// No tensor of the requested name.
        case missingTensor
        /// The file's own checks fail: a zip entry's CRC-32, a central directory that lists fewer entries than it
        /// declares.
        case corrupt
    }

    public var kind: Kind
    /// The file, as the user named it.
    public var file: String
    /// The tensor, when the problem concerns one.
    public var tensor: String?
    /// What is wrong, in words a user can act on.
    public var reason: String

    public init(_ kind: Kind, file: String, tensor: String? = nil, _ reason: String) {
        self.kind = kind
        self.file = file
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String {
        if let tensor { return "\(Rendering.printable(file)): tensor '\(Rendering.printable(tensor))': \(reason)" }
        return "\(Rendering.printable(file)): \(reason)"
    }
}

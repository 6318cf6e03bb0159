import Foundation

/// A safetensors file: an 8-byte little-endian header length, a JSON header mapping names to dtype, shape and
/// `data_offsets` (relative to the byte buffer after the header), an optional `__metadata__` string map, and the
/// byte buffer.
///
/// Only the header is read when the file is opened; each tensor is read (`pread`) when asked for, so reading a
/// 1 GB file one tensor at a time holds one tensor in memory. The header is validated as the reference implementation does: bounded length, strict JSON without
/// duplicate names, known dtypes, shapes whose byte size does not overflow and equals the offsets' span, and
/// offsets that lie inside the buffer and tile it without gaps or overlaps.
public struct SafetensorsFile: TensorArchive {
    public let path: String
    public var formatName: String { "safetensors" }
    /// PyTorch's (out, in, k...): safetensors files hold PyTorch state dicts (a TensorFlow one would need --conv-layout).
    public var kernelLayout: KernelLayout? { .channelsFirst }
    public let descriptors: [TensorDescriptor]
    /// The header's `__metadata__` entries.
    public let metadata: [String: String]
    private let source: ByteSource
    private let ranges: [String: Range<Int>]

    /// The reference implementation's limit on the JSON header.
    public static let maximumHeaderLength = 100_000_000

    static let dtypeNames: [String: DType] = [
        "BOOL": .bool, "U8": .uint8, "I8": .int8, "I16": .int16, "U16": .uint16, "I32": .int32, "U32": .uint32,
        "I64": .int64, "U64": .uint64, "F16": .float16, "BF16": .bfloat16, "F32": .float32, "F64": .float64,
    ]

    public init(contentsOf url: URL) throws(FormatError) {
        try self.init(source: try ByteSource.open(url), file: url.relativePath)
    }

    /// Parses safetensors bytes already in memory; `file` names them in errors.
    public init(data: Data, file: String) throws(FormatError) {
        try self.init(source: .memory(data), file: file)
    }

    private init(source: ByteSource, file: String) throws(FormatError) {
        path = file
        self.source = source
        let fileSize = source.count
        var lengthReader = ByteReader(try source.read(0..<min(8, fileSize)), file: file)
        let declaredLength = try lengthReader.integer(UInt64.self, "the header length")
        guard declaredLength <= UInt64(Self.maximumHeaderLength) else {
            throw FormatError(.invalidHeader, file: file,
                              "header length \(declaredLength) exceeds the limit of \(Self.maximumHeaderLength) bytes")
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= fileSize - 8 else {
            throw FormatError(.truncated, file: file,
                              "header length \(headerLength) runs past the end of the \(fileSize)-byte file")
        }
        let headerBytes = try source.read(8..<(8 + headerLength))
        let bufferStart = 8 + headerLength
        let bufferLength = fileSize - bufferStart

        let header: JSONValue
        do {
            header = try StrictJSONParser.parse(Array(headerBytes))
        } catch {
            if error.message.hasPrefix("duplicate key") {
                let name = error.message.split(separator: "\"").dropFirst().first.map(String.init)
                throw FormatError(.duplicateName, file: file, tensor: name, "the name appears more than once in the header")
            }
            throw FormatError(.invalidHeader, file: file, "the header is not valid JSON: \(error.message)")
        }
        guard case .object(let entries) = header else {
            throw FormatError(.invalidHeader, file: file, "the header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        var descriptors: [TensorDescriptor] = []
        var spans: [(name: String, range: Range<Int>)] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let items) = value else {
                    throw FormatError(.invalidHeader, file: file, "__metadata__ is not an object of strings")
                }
                for (key, item) in items {
                    guard case .string(let text) = item else {
                        throw FormatError(.invalidHeader, file: file, "__metadata__ entry '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            let (descriptor, range) = try Self.entry(name: name, value: value, bufferLength: bufferLength, file: file)
            descriptors.append(descriptor)
            spans.append((name, range))
        }

        // The data ranges must tile the buffer: sorted by start, each begins where the previous ended.
        var end = 0
        for span in spans.sorted(by: { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }) {
            guard span.range.lowerBound >= end else {
                throw FormatError(.invalidOffsets, file: file, tensor: span.name,
                                  "data_offsets [\(span.range.lowerBound), \(span.range.upperBound)) overlap another tensor")
            }
            guard span.range.lowerBound == end else {
                throw FormatError(.invalidOffsets, file: file, tensor: span.name,
                                  "data_offsets start at \(span.range.lowerBound), leaving a gap after byte \(end)")
            }
            end = span.range.upperBound
        }
        guard end == bufferLength else {
            throw FormatError(.invalidOffsets, file: file,
                              "the tensors cover \(end) bytes of a \(bufferLength)-byte data buffer")
        }
        self.descriptors = descriptors
        self.metadata = metadata
        ranges = Dictionary(uniqueKeysWithValues: spans.map { ($0.name, ($0.range.lowerBound + bufferStart)..<($0.range.upperBound + bufferStart)) })
    }

    private static func entry(
        name: String, value: JSONValue, bufferLength: Int, file: String
    ) throws(FormatError) -> (TensorDescriptor, Range<Int>) {
        guard case .string(let dtypeName)? = value["dtype"] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "missing string field 'dtype'")
        }
        guard let dtype = dtypeNames[dtypeName] else {
            throw FormatError(.unsupportedDType, file: file, tensor: name,
                              "unsupported dtype '\(dtypeName)' (supported: \(dtypeNames.keys.sorted().joined(separator: ", ")))")
        }
        guard case .array(let extents)? = value["shape"] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "missing array field 'shape'")
        }
        var shape: [Int] = []
        for extent in extents {
            guard case .integer(let size) = extent else {
                throw FormatError(.invalidShape, file: file, tensor: name, "shape entries must be integers")
            }
            shape.append(size)
        }
        guard let byteCount = TensorDescriptor.checkedByteCount(shape: shape, dtype: dtype) else {
            throw FormatError(.invalidShape, file: file, tensor: name, "shape \(shape) is negative or its byte size overflows")
        }
        guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
              case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "'data_offsets' must be two integers")
        }
        guard begin >= 0, begin <= end else {
            throw FormatError(.invalidOffsets, file: file, tensor: name, "data_offsets [\(begin), \(end)) are not increasing")
        }
        guard end <= bufferLength else {
            throw FormatError(.invalidOffsets, file: file, tensor: name,
                              "data_offsets end at \(end), past the \(bufferLength)-byte data buffer")
        }
        guard end - begin == byteCount else {
            throw FormatError(.invalidOffsets, file: file, tensor: name,
                              "shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets span \(end - begin)")
        }
        return (TensorDescriptor(name: name, dtype: dtype, shape: shape), begin..<end)
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let range = ranges[name], let descriptor = descriptors.first(where: { $0.name == name }) else {
            throw missing(name)
        }
        return StoredTensor(descriptor: descriptor, data: try source.read(range))
    }

    public func tensorBytes(named name: String, range: Range<Int>) throws(FormatError) -> Data {
        guard let tensorRange = ranges[name] else { throw missing(name) }
        guard range.lowerBound >= 0, range.upperBound <= tensorRange.count else {
            throw FormatError(.invalidOffsets, file: path, tensor: name,
                              "byte range \(range) lies outside the tensor's \(tensorRange.count) bytes")
        }
        return try source.read((tensorRange.lowerBound + range.lowerBound)..<(tensorRange.lowerBound + range.upperBound))
    }

    /// Writes tensors (in the given order) and metadata as a safetensors file, streaming each tensor to disk.
    public static func write(_ tensors: [StoredTensor], metadata: [String: String] = [:], to url: URL) throws(FormatError) {
        try checkUniqueNames(tensors.map(\.descriptor), file: url.relativePath)
        let names = Dictionary(uniqueKeysWithValues: dtypeNames.map { ($1, $0) })
        var entries: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            entries.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for tensor in tensors {
            entries.append((tensor.name, .object([
                ("dtype", .string(names[tensor.dtype]!)),
                ("shape", .array(tensor.shape.map { .integer($0) })),
                ("data_offsets", .array([.integer(offset), .integer(offset + tensor.data.count)])),
            ])))
            offset += tensor.data.count
        }
        var header = Array(JSONValue.object(entries).serialized.utf8)
        // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var prefix = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(contentsOf: header)
        try FileAccess.write(chunks: [prefix] + tensors.map(\.data), to: url)
    }
}

import Foundation

/// NumPy's .npy format (versions 1.0, 2.0 and 3.0): a magic string, a header length, a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` and the raw data.
///
/// Reading accepts both byte orders and C or Fortran order and returns little-endian C-order data. Writing emits
/// version 1.0 (2.0 when the header needs more than 65535 bytes), little-endian, C order, padded to 64 bytes as
/// NumPy does.
public enum NumPyFormat {
    static let magic = Data([0x93] + Array("NUMPY".utf8))
    /// NumPy itself refuses headers over 10000 bytes unless told otherwise; a megabyte is far beyond any real one.
    static let maximumHeaderLength = 1 << 20

    /// The parsed header of an .npy stream.
    struct Header {
        var dtype: DType
        var bigEndian: Bool
        var fortranOrder: Bool
        var shape: [Int]
        /// Where the data starts, from the start of the stream.
        var dataOffset: Int
    }

    /// Parses the header at the start of `data`, validating magic, lengths, dtype and shape.
    static func header(of data: Data, file: String, name: String?) throws(FormatError) -> Header {
        var reader = ByteReader(data, file: file)
        let prefix = try reader.bytes(magic.count, "the .npy magic string")
        guard prefix.elementsEqual(magic) else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "not a NumPy .npy file (bad magic string)")
        }
        let major = try reader.byte("the format version")
        _ = try reader.byte("the format version")
        let headerLength: Int
        switch major {
        case 1: headerLength = Int(try reader.integer(UInt16.self, "the header length"))
        case 2, 3: headerLength = Int(try reader.integer(UInt32.self, "the header length"))
        default:
            throw FormatError(.unsupportedFeature, file: file, tensor: name,
                              ".npy format version \(major) is not supported (1, 2 and 3 are)")
        }
        guard headerLength <= maximumHeaderLength else {
            throw FormatError(.invalidHeader, file: file, tensor: name,
                              "header length \(headerLength) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        let headerBytes = try reader.bytes(headerLength, "the .npy header")
        guard let text = String(data: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "the header is not valid text")
        }
        let dictionary: [String: PythonLiteral]
        do throws(PythonLiteralParser.Failure) {
            var parser = PythonLiteralParser(text)
            guard case .dictionary(let entries) = try parser.parseTopLevel() else {
                throw PythonLiteralParser.Failure(message: "the header is not a dict")
            }
            dictionary = entries
        } catch {
            throw FormatError(.invalidHeader, file: file, tensor: name, "malformed header: \(error.message)")
        }
        guard case .string(let descr)? = dictionary["descr"] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "header has no string 'descr'")
        }
        guard case .bool(let fortranOrder)? = dictionary["fortran_order"] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "header has no boolean 'fortran_order'")
        }
        guard case .tuple(let extents)? = dictionary["shape"] else {
            throw FormatError(.invalidHeader, file: file, tensor: name, "header has no tuple 'shape'")
        }
        var shape: [Int] = []
        for extent in extents {
            guard case .integer(let value) = extent else {
                throw FormatError(.invalidShape, file: file, tensor: name, "shape entries must be integers")
            }
            shape.append(value)
        }
        let (dtype, bigEndian) = try parseDescr(descr, file: file, name: name)
        guard TensorDescriptor.checkedByteCount(shape: shape, dtype: dtype) != nil else {
            throw FormatError(.invalidShape, file: file, tensor: name,
                              "shape \(shape) is negative or its byte size overflows")
        }
        return Header(dtype: dtype, bigEndian: bigEndian, fortranOrder: fortranOrder, shape: shape,
                      dataOffset: reader.position - data.startIndex)
    }

    /// NumPy's dtype strings for the types weight files use: byte order ('<', '>', '|' or '=') then kind and size.
    static func parseDescr(_ descr: String, file: String, name: String?) throws(FormatError) -> (DType, Bool) {
        let characters = Array(descr)
        guard characters.count >= 3, "<>|=".contains(characters[0]) else {
            throw FormatError(.unsupportedDType, file: file, tensor: name, "unsupported dtype '\(descr)'")
        }
        let table: [String: DType] = [
            "b1": .bool, "u1": .uint8, "i1": .int8, "i2": .int16, "u2": .uint16, "i4": .int32, "u4": .uint32,
            "i8": .int64, "u8": .uint64, "f2": .float16, "f4": .float32, "f8": .float64,
        ]
        guard let dtype = table[String(characters[1...])] else {
            throw FormatError(.unsupportedDType, file: file, tensor: name,
                              "unsupported dtype '\(descr)' (supported: bool, integers, float16/32/64)")
        }
        return (dtype, characters[0] == ">" && dtype.byteSize > 1)
    }

    /// The NumPy descr for a dtype, little-endian.
    static func descr(for dtype: DType) throws(FormatError) -> String {
        switch dtype {
        case .bool: "|b1"
        case .uint8: "|u1"
        case .int8: "|i1"
        case .int16: "<i2"
        case .uint16: "<u2"
        case .int32: "<i4"
        case .uint32: "<u4"
        case .int64: "<i8"
        case .uint64: "<u8"
        case .float16: "<f2"
        case .float32: "<f4"
        case .float64: "<f8"
        case .bfloat16:
            throw FormatError(.unsupportedDType, file: "", "NumPy has no bfloat16; convert to float32 first")
        }
    }

    /// The tensor `header` describes, once the stream is checked to hold exactly its data after the header: a
    /// truncated file or trailing bytes are refused when the file is opened, not only when the tensor is read.
    static func checkDataLength(of data: Data, header: Header, name: String, file: String) throws(FormatError) -> TensorDescriptor {
        let descriptor = TensorDescriptor(name: name, dtype: header.dtype, shape: header.shape)
        let available = data.count - header.dataOffset
        guard available >= descriptor.byteCount else {
            throw FormatError(.truncated, file: file, tensor: name,
                              "data is truncated: shape \(header.shape) of \(header.dtype) needs " +
                              "\(descriptor.byteCount) bytes, the file has \(available)")
        }
        guard available == descriptor.byteCount else {
            throw FormatError(.invalidOffsets, file: file, tensor: name,
                              "\(available - descriptor.byteCount) unexpected bytes after the data")
        }
        return descriptor
    }

    /// Decodes a whole .npy stream into a tensor named `name`.
    public static func decode(_ data: Data, name: String, file: String) throws(FormatError) -> StoredTensor {
        let header = try header(of: data, file: file, name: name)
        let descriptor = try checkDataLength(of: data, header: header, name: name, file: file)
        let start = data.startIndex + header.dataOffset
        var bytes = Data(data[start..<(start + descriptor.byteCount)])
        if header.bigEndian { bytes = ByteOrder.swapped(bytes, elementSize: header.dtype.byteSize) }
        if header.fortranOrder && header.shape.count > 1 {
            bytes = ByteOrder.fortranToC(bytes, shape: header.shape, elementSize: header.dtype.byteSize)
        }
        return StoredTensor(descriptor: descriptor, data: bytes)
    }

    /// Encodes a tensor as an .npy stream (little-endian, C order).
    public static func encode(_ tensor: StoredTensor) throws(FormatError) -> Data {
        let shapeText: String = switch tensor.shape.count {
        case 1: "(\(tensor.shape[0]),)"
        default: "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dictionary = "{'descr': '\(try descr(for: tensor.dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2 or 4) + dict + padding + newline is a multiple of 64.
        var version: UInt8 = 1
        var prefixLength = magic.count + 2 + 2
        if dictionary.utf8.count + 1 + prefixLength > 65535 {
            version = 2
            prefixLength += 2
        }
        let unpadded = prefixLength + dictionary.utf8.count + 1
        let padding = (64 - unpadded % 64) % 64
        let headerText = dictionary + String(repeating: " ", count: padding) + "\n"
        var output = magic
        output.append(contentsOf: [version, 0])
        let length = headerText.utf8.count
        if version == 1 {
            output.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            output.append(contentsOf: (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) })
        }
        output.append(contentsOf: Array(headerText.utf8))
        output.append(tensor.data)
        return output
    }

    /// Reads a single-array .npy file; the tensor is named after the file without its extension.
    public static func read(contentsOf url: URL) throws(FormatError) -> StoredTensor {
        let data = try FileAccess.mappedContents(of: url)
        return try decode(data, name: url.deletingPathExtension().lastPathComponent, file: url.relativePath)
    }

    /// Writes one tensor as an .npy file.
    public static func write(_ tensor: StoredTensor, to url: URL) throws(FormatError) {
        try FileAccess.write(try encode(tensor), to: url)
    }
}

/// Byte-level reorderings shared by the readers.
enum ByteOrder {
    /// Reverses the bytes of each element.
    static func swapped(_ data: Data, elementSize: Int) -> Data {
        var result = data
        result.withUnsafeMutableBytes { bytes in
            for start in stride(from: 0, to: bytes.count, by: elementSize) {
                var low = start, high = start + elementSize - 1
                while low < high {
                    bytes.swapAt(low, high)
                    low += 1
                    high -= 1
                }
            }
        }
        return result
    }

    /// Reorders column-major (Fortran) elements of `shape` into row-major (C) order.
    static func fortranToC(_ data: Data, shape: [Int], elementSize: Int) -> Data {
        // Fortran strides: the first axis is contiguous.
        var fortranStrides = [Int](repeating: 1, count: shape.count)
        for axis in 1..<shape.count { fortranStrides[axis] = fortranStrides[axis - 1] * shape[axis - 1] }
        return strided(data, shape: shape, strides: fortranStrides, offset: 0, elementSize: elementSize)
    }

    /// Gathers the elements of a strided view (strides and offset in elements) into row-major order.
    static func strided(_ data: Data, shape: [Int], strides: [Int], offset: Int, elementSize: Int) -> Data {
        let count = shape.reduce(1, *)
        var result = Data(count: count * elementSize)
        guard count > 0 else { return result }
        data.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
            result.withUnsafeMutableBytes { (target: UnsafeMutableRawBufferPointer) in
                var index = [Int](repeating: 0, count: shape.count)
                var sourceElement = offset
                for element in 0..<count {
                    let from = sourceElement * elementSize, to = element * elementSize
                    for byte in 0..<elementSize { target[to + byte] = source[from + byte] }
                    // Advance the row-major multi-index, last axis fastest.
                    var axis = shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        sourceElement += strides[axis]
                        if index[axis] < shape[axis] { break }
                        sourceElement -= strides[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return result
    }
}

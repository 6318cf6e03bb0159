import CHDF5
import Foundation
import Reporting

/// An HDF5 file (.h5, .hdf5) as an archive of its numeric datasets, each named by its path without the leading
/// slash (`model_weights/dense/dense/kernel:0`, `xdirection/0`). Keras's weight files, loss-landscape's direction
/// and surface files and h5py's own are all read this way.
///
/// Datasets of integers, IEEE floats (16, 32, 64 bits) and booleans are tensors; strings, compounds and other types
/// are left out of ``descriptors``. Keras files (a `keras_version` or `backend` attribute, or Keras 3's
/// `layers/.../vars` groups) declare channels-last convolution kernels.
///
/// HDF5's library is not thread-safe in Debian's serial build, so every call into it holds one process-wide lock.
public struct HDF5Archive: TensorArchive {
    public let path: String
    public var formatName: String { "hdf5" }
    public let descriptors: [TensorDescriptor]
    public let kernelLayout: KernelLayout?
    private let url: URL

    /// Opens the file and reads every dataset's type and shape (no data).
    /// - Parameters:
    ///   - url: the .h5 file.
    ///   - maximumExpansion: a compressed dataset that would inflate more than this many times its stored bytes
    ///     (and past 64 MiB) is refused as a compression bomb.
    public init(contentsOf url: URL, maximumExpansion: Int = 1024) throws(FormatError) {
        self.url = url
        path = url.relativePath
        let file = url.relativePath
        (descriptors, kernelLayout) = try HDF5.withFile(url, display: file) { handle throws(FormatError) in
            var found: [TensorDescriptor] = []
            for name in try HDF5.datasetNames(handle, file: file) {
                let info = try HDF5.withDataset(handle, name: name, file: file) { dataset, type throws(FormatError) in
                    try HDF5.datasetInfo(dataset, type: type, name: name, file: file)
                }
                guard let info else { continue }
                let logical = TensorDescriptor.checkedByteCount(shape: info.shape, dtype: info.dtype)
                guard let logical else {
                    throw FormatError(.invalidShape, file: file, tensor: name, "shape \(info.shape) overflows")
                }
                if logical > 64 << 20, info.storedBytes > 0, logical / info.storedBytes > maximumExpansion {
                    throw FormatError(.compressionBomb, file: file, tensor: name,
                                      "\(info.storedBytes) stored bytes would inflate to \(logical) (more than \(maximumExpansion)x)")
                }
                found.append(TensorDescriptor(name: name, dtype: info.dtype, shape: info.shape))
            }
            let keras = HDF5.hasAttribute(handle, object: "/", named: ["keras_version", "backend"])
                || HDF5.hasAttribute(handle, object: "/model_weights", named: ["keras_version", "backend"])
                || found.contains { $0.name.hasPrefix("layers/") && $0.name.contains("/vars/") }
            return (found.sorted { HDF5.naturalOrder($0.name, $1.name) }, keras ? .channelsLast : nil)
        }
        try checkUniqueNames(descriptors, file: path)
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let descriptor = descriptors.first(where: { $0.name == name }) else { throw missing(name) }
        let file = path
        return try HDF5.withFile(url, display: file) { handle throws(FormatError) in
            try HDF5.withDataset(handle, name: name, file: file) { dataset, type throws(FormatError) in
                try HDF5.read(dataset, type: type, descriptor: descriptor, file: file)
            }
        }
    }

    /// Writes `tensors` (float32, float64, int64 or uint64; a `/` in a name makes groups), `strings` as scalar
    /// string datasets and `attributes` as string attributes of the root, to a new file at `url`.
    public static func write(
        _ tensors: [StoredTensor], strings: [(name: String, value: String)] = [], attributes: [(name: String, value: String)] = [],
        to url: URL
    ) throws(FormatError) {
        let file = url.relativePath
        try HDF5.locked { () throws(FormatError) in
            let handle = H5Fcreate(url.path, curvature_h5f_acc_trunc(), curvature_h5p_default(), curvature_h5p_default())
            guard handle >= 0 else { throw FormatError(.unreadable, file: file, "cannot create the HDF5 file") }
            var closed = false
            defer { if !closed { H5Fclose(handle) } }
            for tensor in tensors { try HDF5.writeTensor(handle, tensor, file: file) }
            for (name, value) in strings { try HDF5.writeString(handle, name: name, value: value, file: file) }
            for (name, value) in attributes { try HDF5.writeAttribute(handle, name: name, value: value, file: file) }
            closed = true
            guard H5Fclose(handle) >= 0 else { throw FormatError(.unreadable, file: file, "cannot finish writing the HDF5 file") }
        }
    }
}

/// The calls into libhdf5, each under one lock.
enum HDF5 {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var isSetUp = false

    static func locked<T>(_ body: () throws(FormatError) -> T) throws(FormatError) -> T {
        lock.lock()
        defer { lock.unlock() }
        if !isSetUp {
            curvature_h5_set_up()
            isSetUp = true
        }
        curvature_h5_quiet_errors()
        return try body()
    }

    /// Opens `url` read-only (checking the signature first, so a non-HDF5 file gets a plain message), runs
    /// `body`, and closes it.
    static func withFile<T>(_ url: URL, display: String, _ body: (hid_t) throws(FormatError) -> T) throws(FormatError) -> T {
        let contents = try FileAccess.mappedContents(of: url)
        guard contents.prefix(8) == Data([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]) else {
            throw FormatError(.invalidHeader, file: display, "not an HDF5 file (no HDF5 signature at its start)")
        }
        return try locked { () throws(FormatError) in
            let handle = curvature_h5_open_read_only(url.path)
            guard handle >= 0 else { throw FormatError(.invalidHeader, file: display, "HDF5 cannot open the file (damaged or truncated)") }
            defer { H5Fclose(handle) }
            return try body(handle)
        }
    }

    static func datasetNames(_ handle: hid_t, file: String) throws(FormatError) -> [String] {
        var names = curvature_h5_names(bytes: nil, length: 0, capacity: 0, failed: 0)
        defer { free(names.bytes) }
        guard curvature_h5_dataset_names(handle, &names) >= 0 else {
            throw FormatError(.invalidHeader, file: file, "HDF5 cannot list the file's groups (damaged)")
        }
        guard let bytes = names.bytes else { return [] }
        let buffer = UnsafeRawBufferPointer(start: bytes, count: names.length)
        return buffer.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    struct DatasetInfo {
        var dtype: DType
        var shape: [Int]
        var storedBytes: Int
    }

    /// Opens dataset `name` and its stored type, runs `body` on them, and closes both.
    static func withDataset<T>(
        _ handle: hid_t, name: String, file: String, _ body: (_ dataset: hid_t, _ type: hid_t) throws(FormatError) -> T
    ) throws(FormatError) -> T {
        let dataset = H5Dopen2(handle, name, curvature_h5p_default())
        guard dataset >= 0 else { throw FormatError(.invalidHeader, file: file, tensor: name, "HDF5 cannot open the dataset") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw FormatError(.invalidHeader, file: file, tensor: name, "HDF5 cannot read the dataset's type") }
        defer { H5Tclose(type) }
        return try body(dataset, type)
    }

    /// The dataset's element type and shape; nil for types that are not numbers (strings, compounds, ...).
    static func datasetInfo(_ dataset: hid_t, type: hid_t, name: String, file: String) throws(FormatError) -> DatasetInfo? {
        guard let dtype = dtype(of: type) else { return nil }
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw FormatError(.invalidHeader, file: file, tensor: name, "HDF5 cannot read the dataset's shape") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else { throw FormatError(.invalidShape, file: file, tensor: name, "rank \(rank) is not supported") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        guard dims.allSatisfy({ $0 <= hsize_t(Int.max) }) else {
            throw FormatError(.invalidShape, file: file, tensor: name, "an extent of \(dims) is too large")
        }
        return DatasetInfo(dtype: dtype, shape: dims.map { Int($0) }, storedBytes: Int(clamping: H5Dget_storage_size(dataset)))
    }

    /// The tensor dtype an HDF5 type reads as, or nil.
    private static func dtype(of type: hid_t) -> DType? {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            // Only IEEE layouts: half (sign 15, exponent 10+5, mantissa 0+10), single and double.
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            guard H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return nil }
            switch (size, spos, epos, esize, mpos, msize) {
            case (2, 15, 10, 5, 0, 10): return .float16
            case (4, 31, 23, 8, 0, 23): return .float32
            case (8, 63, 52, 11, 0, 52): return .float64
            default: return nil
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch size {
            case 1: return signed ? .int8 : .uint8
            case 2: return signed ? .int16 : .uint16
            case 4: return signed ? .int32 : .uint32
            case 8: return signed ? .int64 : .uint64
            default: return nil
            }
        case H5T_ENUM:
            // h5py stores NumPy booleans as an 8-bit enum {FALSE, TRUE}.
            return size == 1 ? .bool : nil
        default:
            return nil
        }
    }

    /// Reads a dataset's elements converted by HDF5 to the little-endian form of its own type.
    static func read(_ dataset: hid_t, type fileType: hid_t, descriptor: TensorDescriptor, file: String) throws(FormatError) -> StoredTensor {
        let name = descriptor.name
        let memoryType = H5Tcopy(fileType)
        defer { H5Tclose(memoryType) }
        if H5Tget_class(fileType) != H5T_ENUM { H5Tset_order(memoryType, H5T_ORDER_LE) }
        var data = Data(count: descriptor.byteCount)
        let status = data.withUnsafeMutableBytes { buffer in
            buffer.count == 0 ? 0 : H5Dread(dataset, memoryType, curvature_h5s_all(), curvature_h5s_all(), curvature_h5p_default(), buffer.baseAddress)
        }
        guard status >= 0 else {
            throw FormatError(.truncated, file: file, tensor: name, "HDF5 cannot read the dataset's data (damaged or truncated)")
        }
        if descriptor.dtype == .bool, data.contains(where: { $0 > 1 }) {
            throw FormatError(.invalidOffsets, file: file, tensor: name, "a boolean dataset holds a value other than 0 and 1")
        }
        return StoredTensor(descriptor: descriptor, data: data)
    }

    static func hasAttribute(_ handle: hid_t, object: String, named names: [String]) -> Bool {
        guard H5Lexists(handle, object, curvature_h5p_default()) > 0 || object == "/" else { return false }
        return names.contains { H5Aexists_by_name(handle, object, $0, curvature_h5p_default()) > 0 }
    }

    static func writeTensor(_ handle: hid_t, _ tensor: StoredTensor, file: String) throws(FormatError) {
        let type: hid_t
        switch tensor.dtype {
        case .float64: type = curvature_h5t_native_double()
        case .float32: type = curvature_h5t_native_float()
        case .int64: type = curvature_h5t_std_i64le()
        case .uint64: type = curvature_h5t_std_u64le()
        default: throw FormatError(.unsupportedDType, file: file, tensor: tensor.name, "\(tensor.dtype) is not written to HDF5")
        }
        var dims = tensor.shape.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let dataset = createDataset(handle, name: tensor.name, type: type, space: space)
        guard dataset >= 0 else { throw FormatError(.unreadable, file: file, tensor: tensor.name, "cannot create the dataset") }
        defer { H5Dclose(dataset) }
        let status = tensor.data.withUnsafeBytes {
            H5Dwrite(dataset, type, curvature_h5s_all(), curvature_h5s_all(), curvature_h5p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw FormatError(.unreadable, file: file, tensor: tensor.name, "cannot write the dataset") }
    }

    static func writeString(_ handle: hid_t, name: String, value: String, file: String) throws(FormatError) {
        let type = stringType(value)
        defer { H5Tclose(type) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let dataset = createDataset(handle, name: name, type: type, space: space)
        guard dataset >= 0 else { throw FormatError(.unreadable, file: file, tensor: name, "cannot create the string dataset") }
        defer { H5Dclose(dataset) }
        let bytes = Array(value.utf8) + [0]
        guard H5Dwrite(dataset, type, curvature_h5s_all(), curvature_h5s_all(), curvature_h5p_default(), bytes) >= 0 else {
            throw FormatError(.unreadable, file: file, tensor: name, "cannot write the string dataset")
        }
    }

    static func writeAttribute(_ handle: hid_t, name: String, value: String, file: String) throws(FormatError) {
        let type = stringType(value)
        defer { H5Tclose(type) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(handle, name, type, space, curvature_h5p_default(), curvature_h5p_default())
        guard attribute >= 0 else { throw FormatError(.unreadable, file: file, tensor: name, "cannot create the attribute") }
        defer { H5Aclose(attribute) }
        let bytes = Array(value.utf8) + [0]
        guard H5Awrite(attribute, type, bytes) >= 0 else {
            throw FormatError(.unreadable, file: file, tensor: name, "cannot write the attribute")
        }
    }

    /// A fixed-length, NUL-terminated UTF-8 string type holding `value`.
    private static func stringType(_ value: String) -> hid_t {
        let type = H5Tcopy(curvature_h5t_c_s1())
        H5Tset_size(type, value.utf8.count + 1)
        H5Tset_strpad(type, H5T_STR_NULLTERM)
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }

    /// A dataset whose missing parent groups are created on the way.
    private static func createDataset(_ handle: hid_t, name: String, type: hid_t, space: hid_t) -> hid_t {
        let links = H5Pcreate(curvature_h5p_link_create())
        defer { H5Pclose(links) }
        H5Pset_create_intermediate_group(links, 1)
        return H5Dcreate2(handle, name, type, space, links, curvature_h5p_default(), curvature_h5p_default())
    }

    /// Names compared with runs of digits as numbers, so `xdirection/10` follows `xdirection/9`.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [(text: String, number: Int?)] {
            var result: [(String, Int?)] = []
            var current = "", digits = false
            for character in s {
                let isDigit = character.isASCII && character.isNumber
                if !current.isEmpty && isDigit != digits {
                    result.append((current, digits ? Int(current) : nil))
                    current = ""
                }
                current.append(character)
                digits = isDigit
            }
            if !current.isEmpty { result.append((current, digits ? Int(current) : nil)) }
            return result
        }
        for (x, y) in zip(parts(a), parts(b)) {
            if let m = x.number, let n = y.number, m != n { return m < n }
            if x.text != y.text { return x.text < y.text }
        }
        return parts(a).count < parts(b).count
    }
}

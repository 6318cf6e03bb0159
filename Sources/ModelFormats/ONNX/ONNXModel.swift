import Foundation
import SwiftProtobuf

/// An ONNX model file: its graph (kept whole for model import) and its initializers as named tensors.
///
/// Initializers are decoded from `raw_data` or from the typed repeated fields (`float_data`, `int32_data`, ...),
/// and from external data files next to the model (`location`, `offset`, `length`), which must stay inside the
/// model's directory.
public struct ONNXModel: TensorArchive {
    public let path: String
    public var formatName: String { "onnx" }
    /// ONNX Conv takes its kernel (out, in, k...).
    public var kernelLayout: KernelLayout? { .channelsFirst }
    public let descriptors: [TensorDescriptor]
    /// The decoded model, graph included.
    public let model: Onnx_ModelProto
    private let directory: URL
    private let initializerIndex: [String: Int]

    /// ONNX TensorProto.DataType codes and the dtypes they map to.
    static let dataTypes: [Int32: DType] = [
        1: .float32, 2: .uint8, 3: .int8, 4: .uint16, 5: .int16, 6: .int32, 7: .int64, 9: .bool, 10: .float16,
        11: .float64, 12: .uint32, 13: .uint64, 16: .bfloat16,
    ]
    public static let dataTypeNames: [Int32: String] = [
        0: "undefined", 1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
        8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
        15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
        20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1",
    ]

    public init(contentsOf url: URL) throws(FormatError) {
        path = url.relativePath
        directory = url.deletingLastPathComponent()
        let data = try FileAccess.mappedContents(of: url)
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw FormatError(.truncated, file: path, "not a valid ONNX model: the protobuf is truncated or corrupt (\(error))")
        }
        guard model.hasGraph else { throw FormatError(.invalidHeader, file: path, "the ONNX model has no graph") }
        if let sparse = model.graph.sparseInitializer.first {
            throw FormatError(.unsupportedFeature, file: path, tensor: sparse.values.name,
                              "sparse initializers are not supported")
        }
        var descriptors: [TensorDescriptor] = []
        var index: [String: Int] = [:]
        for (position, initializer) in model.graph.initializer.enumerated() {
            let descriptor = try Self.descriptor(of: initializer, file: path)
            descriptors.append(descriptor)
            index[descriptor.name] = position
        }
        try checkUniqueNames(descriptors, file: path)
        self.descriptors = descriptors
        initializerIndex = index
    }

    private static func descriptor(of tensor: Onnx_TensorProto, file: String) throws(FormatError) -> TensorDescriptor {
        guard let dtype = dataTypes[tensor.dataType] else {
            throw FormatError(.unsupportedDType, file: file, tensor: tensor.name,
                              "unsupported ONNX data type \(dataTypeNames[tensor.dataType] ?? String(tensor.dataType))")
        }
        var shape: [Int] = []
        for dim in tensor.dims {
            guard dim >= 0, dim <= Int64(Int.max) else {
                throw FormatError(.invalidShape, file: file, tensor: tensor.name, "negative dimension \(dim)")
            }
            shape.append(Int(dim))
        }
        guard TensorDescriptor.checkedByteCount(shape: shape, dtype: dtype) != nil else {
            throw FormatError(.invalidShape, file: file, tensor: tensor.name, "shape \(shape) overflows")
        }
        return TensorDescriptor(name: tensor.name, dtype: dtype, shape: shape)
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let position = initializerIndex[name] else { throw missing(name) }
        return try decode(model.graph.initializer[position])
    }

    /// Any tensor of this model (an initializer, or a Constant node's value), decoded.
    public func decode(_ proto: Onnx_TensorProto) throws(FormatError) -> StoredTensor {
        let descriptor = try Self.descriptor(of: proto, file: path)
        let data: Data
        if proto.dataLocation == .external {
            data = try externalData(of: proto, byteCount: descriptor.byteCount)
        } else if proto.hasRawData {
            data = proto.rawData
        } else {
            data = try typedData(of: proto, descriptor: descriptor)
        }
        guard data.count == descriptor.byteCount else {
            throw FormatError(.invalidOffsets, file: path, tensor: proto.name,
                              "shape \(descriptor.shape) of \(descriptor.dtype) needs \(descriptor.byteCount) bytes, the data has \(data.count)")
        }
        return StoredTensor(descriptor: descriptor, data: data)
    }

    /// Values stored in the typed repeated fields, re-encoded as little-endian bytes.
    private func typedData(of proto: Onnx_TensorProto, descriptor: TensorDescriptor) throws(FormatError) -> Data {
        var data = Data(capacity: descriptor.byteCount)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        let count = descriptor.elementCount
        func check(_ available: Int) throws(FormatError) {
            guard available == count else {
                throw FormatError(.invalidOffsets, file: path, tensor: descriptor.name,
                                  "shape \(descriptor.shape) needs \(count) values, the typed field has \(available)")
            }
        }
        switch descriptor.dtype {
        case .float32:
            try check(proto.floatData.count)
            for value in proto.floatData { append(value.bitPattern) }
        case .float64:
            try check(proto.doubleData.count)
            for value in proto.doubleData { append(value.bitPattern) }
        case .int64:
            try check(proto.int64Data.count)
            for value in proto.int64Data { append(value) }
        case .uint32, .uint64:
            try check(proto.uint64Data.count)
            for value in proto.uint64Data {
                if descriptor.dtype == .uint32 { append(UInt32(truncatingIfNeeded: value)) } else { append(value) }
            }
        case .int32, .int16, .int8, .uint16, .uint8, .bool, .float16, .bfloat16:
            // int32_data holds these widened to 32 bits (float16/bfloat16 as their bit patterns).
            try check(proto.int32Data.count)
            for value in proto.int32Data {
                switch descriptor.dtype.byteSize {
                case 1: append(UInt8(truncatingIfNeeded: value))
                case 2: append(UInt16(truncatingIfNeeded: value))
                default: append(value)
                }
            }
        }
        return data
    }

    /// Bytes from an external data file, which must be a relative path inside the model's directory.
    private func externalData(of proto: Onnx_TensorProto, byteCount: Int) throws(FormatError) -> Data {
        var fields: [String: String] = [:]
        for entry in proto.externalData { fields[entry.key] = entry.value }
        guard let location = fields["location"], !location.isEmpty, !location.hasPrefix("/"),
              !location.split(separator: "/").contains("..") else {
            throw FormatError(.invalidOffsets, file: path, tensor: proto.name,
                              "external data location '\(fields["location"] ?? "")' must be a file inside the model's directory")
        }
        let offset = Int(fields["offset"] ?? "0")
        let length = fields["length"].map { Int($0) } ?? byteCount
        guard let offset, let length, offset >= 0, length >= 0 else {
            throw FormatError(.invalidOffsets, file: path, tensor: proto.name, "external data offset or length is not a number")
        }
        let file = directory.appendingPathComponent(location)
        // Resolved, a symbolic link (the file or a directory on the way) must still lead inside the model's directory.
        let root = directory.resolvingSymlinksInPath().standardizedFileURL.path
        let resolved = file.resolvingSymlinksInPath().standardizedFileURL.path
        guard resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw FormatError(.invalidOffsets, file: path, tensor: proto.name,
                              "external data location '\(location)' leads outside the model's directory (to \(resolved)) through a symbolic link")
        }
        let contents = try FileAccess.mappedContents(of: file)
        guard offset <= contents.count, length <= contents.count - offset else {
            throw FormatError(.invalidOffsets, file: path, tensor: proto.name,
                              "external data [\(offset), \(offset + length)) lies past the end of \(location) (\(contents.count) bytes)")
        }
        return Data(contents[(contents.startIndex + offset)..<(contents.startIndex + offset + length)])
    }

    /// Initializers that are weight operands of Conv, ConvTranspose, Gemm or MatMul nodes: the model's weight
    /// matrices and kernels, whatever the exporter named them (`onnx::Conv_16` after BatchNorm folding, say).
    public var weightInitializerNames: Set<String> {
        let initializers = Set(descriptors.map(\.name))
        var names = Set<String>()
        for node in model.graph.node where ["Conv", "ConvTranspose", "Gemm", "MatMul"].contains(node.opType) {
            let operands = node.opType.hasPrefix("Conv") ? Array(node.input.dropFirst().prefix(1)) : Array(node.input.prefix(2))
            names.formUnion(operands.filter { initializers.contains($0) })
        }
        return names
    }

    /// What `curvature info` shows of the graph.
    public var graphSummary: ONNXGraphSummary { ONNXGraphSummary(model) }
}

/// The graph-level facts `curvature info` reports for an ONNX model.
public struct ONNXGraphSummary: Codable, Sendable, Equatable {
    public struct Opset: Codable, Sendable, Equatable {
        /// "" is the default ONNX domain (ai.onnx).
        public var domain: String
        public var version: Int
    }

    public struct Value: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: String
        /// Extents; symbolic dimensions (a batch size "N") appear as their names.
        public var shape: [String]
    }

    public struct OperatorCount: Codable, Sendable, Equatable {
        public var op: String
        public var count: Int
    }

    public var irVersion: Int
    public var producer: String
    public var opsets: [Opset]
    public var operators: [OperatorCount]
    public var inputs: [Value]
    public var outputs: [Value]

    init(_ model: Onnx_ModelProto) {
        irVersion = Int(model.irVersion)
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        opsets = model.opsetImport.map { Opset(domain: $0.domain, version: Int($0.version)) }
        var counts: [String: Int] = [:]
        var order: [String] = []
        for node in model.graph.node {
            let name = node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : node.domain + "." + node.opType
            if counts[name] == nil { order.append(name) }
            counts[name, default: 0] += 1
        }
        operators = order.map { OperatorCount(op: $0, count: counts[$0]!) }
        let initializerNames = Set(model.graph.initializer.map(\.name))
        func value(_ info: Onnx_ValueInfoProto) -> Value {
            let tensorType = info.type.tensorType
            return Value(name: info.name, dtype: ONNXModel.dataTypeNames[tensorType.elemType] ?? String(tensorType.elemType),
                         shape: tensorType.shape.dim.map { dim in
                             switch dim.value {
                             case .dimValue(let size): String(size)
                             case .dimParam(let name): name
                             case nil: "?"
                             }
                         })
        }
        // Older exporters list initializers among the inputs; the real inputs are the rest.
        inputs = model.graph.input.filter { !initializerNames.contains($0.name) }.map(value)
        outputs = model.graph.output.map(value)
    }
}

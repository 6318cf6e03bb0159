/// The element types weight files store. Names follow NumPy ("float32"); bfloat16 has no NumPy name of its own.
public enum DType: String, Codable, Sendable, CaseIterable {
    case bool, uint8, int8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }

    /// Whether the type holds floating-point values (weights, as opposed to labels, indices or masks).
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }
}

/// The name, element type and shape of one stored tensor, known without reading its data.
public struct TensorDescriptor: Codable, Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// The number of elements (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
    /// The size of the data in bytes.
    public var byteCount: Int { elementCount * dtype.byteSize }

    /// The element count, or nil when an extent is negative or the byte size overflows `Int`.
    /// Readers check every shape from a file with this before trusting it.
    public static func checkedByteCount(shape: [Int], dtype: DType) -> Int? {
        var total = dtype.byteSize
        for extent in shape {
            guard extent >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            guard !overflow else { return nil }
            total = product
        }
        return total
    }
}

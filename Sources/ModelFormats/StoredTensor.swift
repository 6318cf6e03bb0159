import Foundation
import LinearAlgebra

/// One decoded tensor: its descriptor and its elements as little-endian, row-major bytes.
public struct StoredTensor: Sendable, Equatable {
    public var descriptor: TensorDescriptor
    /// `descriptor.byteCount` bytes, little-endian, row-major (C order).
    public var data: Data

    public init(descriptor: TensorDescriptor, data: Data) {
        precondition(data.count == descriptor.byteCount,
                     "Tensor '\(descriptor.name)' needs \(descriptor.byteCount) bytes, got \(data.count)")
        self.descriptor = descriptor
        self.data = data
    }

    public var name: String { descriptor.name }
    public var dtype: DType { descriptor.dtype }
    public var shape: [Int] { descriptor.shape }

    /// A stored tensor holding `tensor`'s values as float32 or float64.
    public init<Scalar: TensorScalar>(name: String, tensor: Tensor<Scalar>) {
        let dtype: DType = Scalar.self == Float.self ? .float32 : .float64
        let data = tensor.withUnsafeBufferPointer { Data(buffer: $0) }
        self.init(descriptor: TensorDescriptor(name: name, dtype: dtype, shape: tensor.shape), data: data)
    }

    /// The elements as a floating-point tensor of the requested precision, whatever the stored type
    /// (integers and booleans convert exactly where the precision allows).
    public func tensor<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        Tensor(shape: shape, scalars: values { Scalar($0) })
    }

    /// The elements as Doubles in row-major order.
    public func doubles() -> [Double] { values { $0 } }

    /// The elements of an integer or boolean tensor as Int64 (floats are truncated toward zero).
    public func integers() -> [Int64] {
        switch dtype {
        case .int64: return load(Int64.self) { $0 }
        case .uint64: return load(UInt64.self) { Int64(truncatingIfNeeded: $0) }
        default: return values { Int64($0) }
        }
    }

    /// Decodes every element to Double (exact for all stored types but 64-bit integers beyond 2^53) and maps it.
    private func values<T>(_ transform: (Double) -> T) -> [T] {
        switch dtype {
        case .bool: load(UInt8.self) { transform($0 != 0 ? 1 : 0) }
        case .uint8: load(UInt8.self) { transform(Double($0)) }
        case .int8: load(Int8.self) { transform(Double($0)) }
        case .int16: load(Int16.self) { transform(Double($0)) }
        case .uint16: load(UInt16.self) { transform(Double($0)) }
        case .int32: load(Int32.self) { transform(Double($0)) }
        case .uint32: load(UInt32.self) { transform(Double($0)) }
        case .int64: load(Int64.self) { transform(Double($0)) }
        case .uint64: load(UInt64.self) { transform(Double($0)) }
        case .float16: load(UInt16.self) { transform(Double(Float16(bitPattern: $0))) }
        case .bfloat16: load(UInt16.self) { transform(Double(Float(bitPattern: UInt32($0) << 16))) }
        case .float32: load(UInt32.self) { transform(Double(Float(bitPattern: $0))) }
        case .float64: load(UInt64.self) { transform(Double(bitPattern: $0)) }
        }
    }

    /// Reads little-endian elements of type `Raw` from possibly unaligned bytes.
    private func load<Raw: FixedWidthInteger, T>(_: Raw.Type, _ transform: (Raw) -> T) -> [T] {
        data.withUnsafeBytes { raw in
            let count = raw.count / MemoryLayout<Raw>.size
            return (0..<count).map { i in
                transform(Raw(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Raw>.size, as: Raw.self)))
            }
        }
    }
}

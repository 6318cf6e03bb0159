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
        // Concrete loops for the two precisions: the generic path costs tens of nanoseconds per element.
        if Scalar.self == Double.self { return Tensor(shape: shape, scalars: unsafeBitCast(doubles(), to: [Scalar].self)) }
        if Scalar.self == Float.self { return Tensor(shape: shape, scalars: unsafeBitCast(floats(), to: [Scalar].self)) }
        return Tensor(shape: shape, scalars: values { Scalar($0) })
    }

    /// The elements as Doubles in row-major order.
    public func doubles() -> [Double] {
        switch dtype {
        case .float32:
            // Little-endian hosts with aligned storage (what the readers allocate): a plain loop the compiler
            // vectorises into packed float-to-double conversions.
            let aligned = data.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
            guard aligned, UInt32(littleEndian: 1) == 1 else { return convert(UInt32.self) { Double(Float(bitPattern: $0)) } }
            let count = data.count / 4
            return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    let source = raw.bindMemory(to: Float.self)
                    for i in 0..<count { buffer[i] = Double(source[i]) }
                }
                initialized = count
            }
        case .float64: return convert(UInt64.self) { Double(bitPattern: $0) }
        default: return values { $0 }
        }
    }

    /// The elements as Floats in row-major order (rounded from wider types).
    public func floats() -> [Float] {
        switch dtype {
        case .float32: return convert(UInt32.self) { Float(bitPattern: $0) }
        case .float64: return convert(UInt64.self) { Float(Double(bitPattern: $0)) }
        default: return values { Float($0) }
        }
    }

    /// A tight, specialised loop: little-endian raw words to values.
    @inline(__always)
    private func convert<Raw: FixedWidthInteger, T>(_: Raw.Type, _ transform: (Raw) -> T) -> [T] {
        let count = data.count / MemoryLayout<Raw>.size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                for i in 0..<count {
                    buffer[i] = transform(Raw(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Raw>.size, as: Raw.self)))
                }
            }
            initialized = count
        }
    }

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

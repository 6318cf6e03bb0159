import Autodiff
import LinearAlgebra

/// A value flowing through an ONNX graph: a floating-point tensor on the autodiff tape, an integer tensor
/// (shapes, indices, token ids, boolean masks) that is never differentiated, or a sequence of tensors (the dynamo
/// exporter's SplitToSequence, read back by SequenceAt).
enum GraphValue<Scalar: TensorScalar> {
    case float(Variable<Scalar>)
    case integer(IntegerTensor)
    case sequence([GraphValue])

    /// A tensor's shape; a sequence's is its length.
    var shape: [Int] {
        switch self {
        case .float(let v): v.shape
        case .integer(let t): t.shape
        case .sequence(let items): [items.count]
        }
    }
}

/// A row-major integer tensor.
struct IntegerTensor: Equatable {
    var shape: [Int]
    var values: [Int]

    init(shape: [Int], values: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "integer tensor shape \(shape) needs \(shape.reduce(1, *)) values")
        self.shape = shape
        self.values = values
    }

    init(_ values: [Int]) { self.init(shape: [values.count], values: values) }

    func map(_ f: (Int) -> Int) -> IntegerTensor { IntegerTensor(shape: shape, values: values.map(f)) }

    func asTensor<Scalar: TensorScalar>() -> Tensor<Scalar> { Tensor(shape: shape, scalars: values.map { Scalar($0) }) }

    /// Elementwise with NumPy broadcasting; the shapes must broadcast (the caller checks).
    static func broadcasting(_ a: IntegerTensor, _ b: IntegerTensor, _ op: (Int, Int) -> Int) -> IntegerTensor {
        let rank = max(a.shape.count, b.shape.count)
        let sa = [Int](repeating: 1, count: rank - a.shape.count) + a.shape, sb = [Int](repeating: 1, count: rank - b.shape.count) + b.shape
        let shape = zip(sa, sb).map { $0 == 1 ? $1 : $0 }
        // Strides of each operand over the result's axes, 0 where it is broadcast.
        func strides(_ s: [Int]) -> [Int] {
            var result = [Int](repeating: 0, count: rank), step = 1
            for k in stride(from: rank - 1, through: 0, by: -1) {
                result[k] = s[k] == 1 ? 0 : step
                step *= s[k]
            }
            return result
        }
        let ta = strides(sa), tb = strides(sb)
        let count = shape.reduce(1, *)
        var values = [Int](), position = [Int](repeating: 0, count: rank)
        values.reserveCapacity(count)
        for _ in 0..<count {
            var ia = 0, ib = 0
            for k in 0..<rank { ia += position[k] * ta[k]; ib += position[k] * tb[k] }
            values.append(op(a.values[ia], b.values[ib]))
            var k = rank - 1
            while k >= 0 {
                position[k] += 1
                if position[k] < shape[k] { break }
                position[k] = 0
                k -= 1
            }
        }
        return IntegerTensor(shape: shape, values: values)
    }

    /// `tensor`'s values as integers, each converted by ``saturating(_:)``.
    init<Scalar: TensorScalar>(saturating tensor: Tensor<Scalar>) {
        self.init(shape: tensor.shape, values: tensor.scalars.map { Self.saturating(Double($0)) })
    }

    /// `value` as an integer, NaN as 0 and values past Int's range clamped to it (a float cast to int64 is
    /// undefined there in ONNX; a trap is not an answer).
    static func saturating(_ value: Double) -> Int {
        guard !value.isNaN else { return 0 }
        if value >= 0x1p63 { return Int.max }
        if value <= -0x1p63 { return Int.min }
        return Int(value)
    }
}

import Autodiff
import LinearAlgebra

/// A value flowing through an ONNX graph: a floating-point tensor on the autodiff tape, or an integer tensor
/// (shapes, indices, token ids, boolean masks) that is never differentiated.
enum GraphValue<Scalar: TensorScalar> {
    case float(Variable<Scalar>)
    case integer(IntegerTensor)

    var shape: [Int] {
        switch self {
        case .float(let v): v.shape
        case .integer(let t): t.shape
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

    /// Elementwise with NumPy broadcasting (integers held exactly in Double, |values| < 2^53).
    static func broadcasting(_ a: IntegerTensor, _ b: IntegerTensor, _ op: (Int, Int) -> Int) -> IntegerTensor {
        let result = Tensor<Double>.broadcasting(a.asTensor(), b.asTensor()) { Double(op(Int($0), Int($1))) }
        return IntegerTensor(shape: result.shape, values: result.scalars.map { Int($0) })
    }
}

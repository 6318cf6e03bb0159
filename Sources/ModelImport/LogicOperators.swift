import Autodiff
import Foundation
import LinearAlgebra

/// Comparisons, logic and elementwise extremes: the masks and guards exporters write around attention (causal masks,
/// `IsNaN` guards on softmax, `Max` on clamped lengths). Comparisons and logic give integer (boolean) tensors, never
/// differentiated; `Max` and `Min` of floating-point operands pass the gradient to the operand selected.
extension GraphOperators {
    /// Both operands as Double tensors (exact for the integers a graph holds: shapes, ids, masks).
    func doubles(_ value: Value?) throws -> Tensor<Double> {
        switch value {
        case .float(let v)?: return v.value.converted(to: Double.self)
        case .integer(let t)?: return t.asTensor()
        case .sequence?: throw sequenceOperand()
        case nil: throw fail("a required input is missing")
        }
    }

    /// Greater, Less, GreaterOrEqual, LessOrEqual, And, Or, Xor: a boolean tensor, broadcast.
    func comparison(_ a: Value?, _ b: Value?) throws -> Value {
        guard let a, let b else { throw fail("needs two inputs") }
        _ = try broadcastShape(a.shape, b.shape)
        let test: (Double, Double) -> Bool = switch node.opType {
        case "Greater": { $0 > $1 }
        case "Less": { $0 < $1 }
        case "GreaterOrEqual": { $0 >= $1 }
        case "LessOrEqual": { $0 <= $1 }
        case "And": { $0 != 0 && $1 != 0 }
        case "Or": { $0 != 0 || $1 != 0 }
        default: { ($0 != 0) != ($1 != 0) }  // Xor
        }
        return .integer(IntegerTensor(saturating: Tensor.broadcasting(try doubles(a), try doubles(b)) { test($0, $1) ? 1 : 0 }))
    }

    /// Not and IsNaN: a boolean tensor.
    func predicate(_ x: Value?) throws -> Value {
        let values = try doubles(x)
        let test: (Double) -> Bool = node.opType == "Not" ? { $0 == 0 } : { $0.isNaN }
        return .integer(IntegerTensor(shape: values.shape, values: values.scalars.map { test($0) ? 1 : 0 }))
    }

    /// Max and Min of one or more operands, broadcast. Integers stay integers; floating-point operands are
    /// differentiable, the gradient going to the operand selected (the first on ties, as PyTorch's `maximum` does
    /// not promise otherwise).
    func extreme(_ operands: [Value?]) throws -> Value {
        let values = operands.compactMap { $0 }
        guard var result = values.first else { throw fail("needs at least one input") }
        let isMax = node.opType == "Max"
        for next in values.dropFirst() {
            _ = try broadcastShape(result.shape, next.shape)
            if case .integer(let a) = result, case .integer(let b) = next {
                result = .integer(.broadcasting(a, b) { isMax ? Swift.max($0, $1) : Swift.min($0, $1) })
                continue
            }
            let a = try variable(result), b = try variable(next)
            let keepFirst = Tensor.broadcasting(a.value, b.value) { (isMax ? $0 >= $1 : $0 <= $1) ? 1 : 0 }
            result = .float(V.selecting(keepFirst, a, b))
        }
        return result
    }

    /// Mod of integers: the sign of the divisor (fmod = 0, Python's %) or of the dividend (fmod = 1, C's fmod); a
    /// zero divisor gives 0. Floating-point operands only as constants (it has no useful gradient).
    func modulo(_ a: Value?, _ b: Value?) throws -> Value {
        guard let a, let b else { throw fail("needs two inputs") }
        _ = try broadcastShape(a.shape, b.shape)
        let truncating = int("fmod", 0) != 0
        if case .integer(let x) = a, case .integer(let y) = b {
            return .integer(.broadcasting(x, y) { p, q in
                guard q != 0 else { return 0 }
                let r = p.remainderReportingOverflow(dividingBy: q).partialValue
                return truncating || r == 0 || (r < 0) == (q < 0) ? r : r &+ q
            })
        }
        for case .float(let v) in [a, b] where v.isDifferentiable || v.carriesTangent {
            throw fail("Mod of values that depend on the parameters is not supported")
        }
        let result = Tensor.broadcasting(try doubles(a), try doubles(b)) { p, q in
            guard q != 0 else { return Double.nan }
            let r = Foundation.fmod(p, q)
            return truncating || r == 0 || (r < 0) == (q < 0) ? r : r + q
        }
        return .float(V(result.converted(to: Scalar.self)))
    }
}

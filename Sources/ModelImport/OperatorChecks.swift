import Autodiff
import LinearAlgebra
import Reporting

/// Checks of a node's inputs and attributes made before its kernel runs: a file that asks for a zero stride, a
/// negative pad or a shape that does not fit is refused with the node, the operator and the bad value. The kernels'
/// own preconditions stay as a second line of defence only.
extension GraphOperators {
    /// The inputs each operator cannot do without (ONNX's required inputs, in order).
    static func requiredInputs(_ opType: String, opset: Int) -> Int {
        switch opType {
        case "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Gemm", "MatMul", "Conv", "LayerNormalization", "Reshape", "Gather",
             "GatherElements", "Expand", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Mod", "CastLike",
             "GatherND", "CumSum", "SequenceAt": 2
        case "Where", "Range": 3
        case "BatchNormalization": 5
        case "Slice": opset >= 10 ? 3 : 1
        case "Constant": 0
        default: 1
        }
    }

    func checkArity(_ operands: [Value?]) throws {
        let required = Self.requiredInputs(node.opType, opset: opset)
        guard operands.count >= required, operands.prefix(required).allSatisfy({ $0 != nil }) else {
            throw fail("needs \(required) inputs, has \(operands.prefix(required).compactMap { $0 }.count)")
        }
        if node.opType == "Concat", operands.allSatisfy({ $0 == nil }) { throw fail("has no inputs to join") }
    }

    /// A tensor of `shape` must have non-negative extents and fit the memory budget.
    func checkAllocation(_ shape: [Int]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("shape \(shape) has a negative extent") }
        do { try MemoryBudget.machine.check(shape, bytesEach: MemoryLayout<Scalar>.size, for: "a tensor of shape \(shape)") } catch {
            throw fail(error.description)
        }
    }

    /// A per-axis attribute (strides, dilations, kernel_shape): `count` values, each at least `minimum`.
    func axisValues(_ name: String, count: Int, default fallback: Int, minimum: Int) throws -> [Int] {
        let values = ints(name) ?? [Int](repeating: fallback, count: count)
        guard values.count == count, values.allSatisfy({ $0 >= minimum }) else {
            throw fail("\(name) \(values) must be \(count) values of at least \(minimum)")
        }
        return values
    }

    /// Pads: 2 x `spatial` non-negative values (begins, then ends).
    func padValues(spatial: Int) throws -> [Int] {
        let pads = ints("pads") ?? [Int](repeating: 0, count: 2 * spatial)
        guard pads.count == 2 * spatial, pads.allSatisfy({ $0 >= 0 }) else {
            throw fail("pads \(pads) must be \(2 * spatial) non-negative values")
        }
        return pads
    }

    /// Every window (`kernel` dilated) must fit the padded input on each spatial axis, and the padded input and the
    /// column matrix the windows unfold into (channels x kernel x output positions) must fit the memory budget.
    func checkWindows(input: [Int], kernel: [Int], dilations: [Int], pads: [Int], strides: [Int]? = nil) throws {
        let spatial = kernel.count
        var padded = Array(input.prefix(2)), columns = [input[1]]
        for k in 0..<spatial {
            let (span, spanOverflow) = (kernel[k] - 1).multipliedReportingOverflow(by: dilations[k])
            let (extent, extentOverflow) = input[2 + k].addingReportingOverflow(pads[k])
            let (total, totalOverflow) = extent.addingReportingOverflow(pads[k + spatial])
            guard !spanOverflow, !extentOverflow, !totalOverflow else {
                throw fail("kernel, dilations or pads on spatial axis \(k) are too large (input \(input), pads \(pads))")
            }
            guard span + 1 <= total else {
                throw fail("a window of \(span + 1) does not fit the padded input extent \(total) on spatial axis \(k) (input \(input))")
            }
            padded.append(total)
            columns += [kernel[k], (total - span - 1) / (strides?[k] ?? 1) + 1]
        }
        try checkAllocation(padded)
        try checkAllocation(columns)
    }

    /// A per-channel operand (BatchNorm's scale, bias, mean, variance) must hold one value per channel.
    func checkPerChannel(_ values: [V], names: [String], channels: Int) throws {
        for (value, name) in zip(values, names) where value.shape != [channels] {
            throw fail("\(name) has shape \(value.shape) but the input has \(channels) channels")
        }
    }
}

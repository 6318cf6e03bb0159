import Autodiff
import Foundation
import LinearAlgebra

/// Index arithmetic that exporters write for positions and masks: Range (position ids), CumSum (RoBERTa's
/// positions from the attention mask) and GatherND (the token a classifier pools, by index).
extension GraphOperators {
    /// Range(start, limit, delta): `max(ceil((limit - start) / delta), 0)` values; integers when the operands are.
    func range(_ operands: [Value?]) throws -> Value {
        let bounds = try operands.prefix(3).map { value -> Double in
            let values = try doubles(value)
            guard values.count == 1 else { throw fail("start, limit and delta must be scalars, got shape \(values.shape)") }
            return values.scalars[0]
        }
        let (start, limit, delta) = (bounds[0], bounds[1], bounds[2])
        guard delta != 0, start.isFinite, limit.isFinite, delta.isFinite else {
            throw fail("start \(start), limit \(limit) and delta \(delta) must be finite, delta not zero")
        }
        let count = max(0, ((limit - start) / delta).rounded(.up))
        guard count < 0x1p62 else { throw fail("start \(start), limit \(limit) and delta \(delta) make \(count) values") }
        try checkAllocation([Int(count)])
        let values = (0..<Int(count)).map { start + Double($0) * delta }
        if operands.prefix(3).allSatisfy({ if case .integer? = $0 { true } else { false } }) {
            return .integer(IntegerTensor(values.map { Int($0) }))
        }
        return .float(V(Tensor(values.map { Scalar($0) })))
    }

    /// CumSum of integers along `axis` (an operand), with ONNX's `exclusive` and `reverse`.
    func cumulativeSum(_ operands: [Value?]) throws -> Value {
        guard case .integer(let x)? = operands[0] else {
            throw fail("CumSum of floating-point values is not supported (only of integers: positions from masks)")
        }
        let axisValues = try integers(operands[1]).values
        guard axisValues.count == 1 else { throw fail("axis must be one value, got \(axisValues.count)") }
        let a = try axis(axisValues[0], rank: x.shape.count)
        let exclusive = int("exclusive", 0) != 0, reverse = int("reverse", 0) != 0
        let extent = x.shape[a], inner = x.shape[(a + 1)...].reduce(1, *), outer = x.shape[..<a].reduce(1, *)
        var values = x.values
        for o in 0..<outer {
            for i in 0..<inner {
                var total = 0
                for step in 0..<extent {
                    let k = reverse ? extent - 1 - step : step
                    let offset = (o * extent + k) * inner + i
                    let value = x.values[offset]
                    if exclusive {
                        values[offset] = total
                        total &+= value
                    } else {
                        total &+= value
                        values[offset] = total
                    }
                }
            }
        }
        return .integer(IntegerTensor(shape: x.shape, values: values))
    }

    /// GatherND with `batch_dims` b: `out[batch, i] = data[batch, indices[batch, i, 0..<k], ...]`; the output's
    /// shape is `indices.shape[..<-1] + data.shape[(b + k)...]`. Linear in the data (its adjoint scatters back).
    func gatherND(_ data: Value, _ indices: IntegerTensor) throws -> Value {
        let shape = data.shape, b = int("batch_dims", 0)
        guard let k = indices.shape.last, indices.shape.count >= 1, b >= 0, b < min(shape.count, indices.shape.count),
              k >= 1, b + k <= shape.count, Array(indices.shape.prefix(b)) == Array(shape.prefix(b)) else {
            throw fail("indices of shape \(indices.shape) with batch_dims \(b) do not index data of shape \(shape)")
        }
        let batches = shape.prefix(b).reduce(1, *)
        let inner = shape[(b + k)...].reduce(1, *)
        let perBatch = indices.values.count / max(1, batches * k)
        let batchStride = shape[b...].reduce(1, *)
        var offsets: [Int] = []
        offsets.reserveCapacity(batches * perBatch * inner)
        for batch in 0..<batches {
            for tuple in 0..<perBatch {
                var base = 0
                for j in 0..<k {
                    let extent = shape[b + j], raw = indices.values[(batch * perBatch + tuple) * k + j]
                    let index = raw < 0 ? raw + extent : raw
                    guard index >= 0 && index < extent else { throw fail("index \(raw) outside 0..<\(extent) on axis \(b + j)") }
                    base = base * extent + index
                }
                for i in 0..<inner { offsets.append(batch * batchStride + base * inner + i) }
            }
        }
        let outputShape = Array(indices.shape.dropLast()) + Array(shape[(b + k)...])
        switch data {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.gathered(offsets).reshaped(outputShape))
        case .integer(let t): return .integer(IntegerTensor(shape: outputShape, values: offsets.map { t.values[$0] }))
        }
    }
}

import Autodiff
import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Reporting

/// One node's computation, with ONNX semantics for the opsets supported.
struct GraphOperators<Scalar: TensorScalar> {
    let file: String
    let node: Onnx_NodeProto
    let opset: Int
    let context: ForwardContext<Scalar>

    typealias Value = GraphValue<Scalar>
    typealias V = Variable<Scalar>

    func fail(_ reason: String) -> ImportError {
        ImportError(file: file, "node '\(node.name)' (\(node.opType)): \(reason)")
    }

    /// A sequence where the operator takes a tensor.
    func sequenceOperand() -> ImportError { fail("a tensor input is a sequence") }

    // MARK: Attributes

    func attribute(_ name: String) -> Onnx_AttributeProto? { node.attribute.first { $0.name == name } }
    func int(_ name: String, _ fallback: Int) -> Int { attribute(name).map { Int($0.i) } ?? fallback }
    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map(Int.init) } }
    func float(_ name: String, _ fallback: Double) -> Double { attribute(name).map { Double($0.f) } ?? fallback }
    func string(_ name: String, _ fallback: String) -> String { attribute(name).map { String(decoding: $0.s, as: UTF8.self) } ?? fallback }

    // MARK: Operands

    func variable(_ value: Value?) throws -> V {
        switch value {
        case .float(let v)?: return v
        case .integer(let t)?: return V(t.asTensor())
        case .sequence?: throw sequenceOperand()
        case nil: throw fail("a required input is missing")
        }
    }

    func integers(_ value: Value?) throws -> IntegerTensor {
        switch value {
        case .integer(let t)?: return t
        case .float(let v)?: return IntegerTensor(saturating: v.value)
        case .sequence?: throw sequenceOperand()
        case nil: throw fail("a required input is missing")
        }
    }

    /// An axis, negative counting from the end.
    func axis(_ axis: Int, rank: Int) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0 && resolved < rank else { throw fail("axis \(axis) is out of range for rank \(rank)") }
        return resolved
    }

    /// Axes from the attribute (older opsets) or the input at `position` (newer).
    func axesOperand(_ operands: [Value?], position: Int) throws -> [Int]? {
        if let list = ints("axes") { return list }
        if operands.count > position, let value = operands[position] { return try integers(value).values }
        return nil
    }

    // MARK: Dispatch

    func apply(_ operands: [Value?]) throws -> [Value] {
        try checkArity(operands)
        let x = operands.first ?? nil
        switch node.opType {
        case "Identity", "Dropout": return [x!]
        case "Add", "Sub", "Mul", "Div", "Pow", "Equal": return [try arithmetic(operands[0], operands[1])]
        case "Neg": return [try unary(x) { -$0 }]
        case "Sqrt": return [try unary(x) { $0.sqrt() }]
        case "Reciprocal": return [try unary(x) { 1 / $0 }]
        case "Exp": return [try unary(x) { $0.exp() }]
        case "Log": return [try unary(x) { $0.log() }]
        case "Relu": return [try unary(x) { $0.relu() }]
        case "LeakyRelu": return [try unary(x) { $0.leakyRelu(slope: Scalar(float("alpha", 0.01))) }]
        case "Sigmoid": return [try unary(x) { $0.sigmoid() }]
        case "Tanh": return [try unary(x) { $0.tanh() }]
        case "Erf": return [try unary(x) { $0.erf() }]
        case "Sin": return [try unary(x) { $0.sin() }]
        case "Cos": return [try unary(x) { $0.cos() }]
        case "HardSigmoid": return [try unary(x) { hardSigmoid($0, alpha: float("alpha", 0.2), beta: float("beta", 0.5)) }]
        case "HardSwish": return [try unary(x) { $0 * hardSigmoid($0, alpha: 1.0 / 6, beta: 0.5) }]
        case "Clip": return [try clip(operands)]
        case "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor": return [try comparison(operands[0], operands[1])]
        case "Not", "IsNaN": return [try predicate(x)]
        case "Max", "Min": return [try extreme(operands)]
        case "Mod": return [try modulo(operands[0], operands[1])]
        case "Range": return [try range(operands)]
        case "CumSum": return [try cumulativeSum(operands)]
        case "GatherND": return [try gatherND(operands[0]!, try integers(operands[1]))]
        case "CastLike":
            if case .float? = operands[1] { return [.float(try variable(x))] }
            return [.integer(try integers(x))]
        case "Gelu": return [try unary(x) { string("approximate", "none") == "tanh" ? $0.geluTanh() : $0.gelu() }]
        case "Softmax", "LogSoftmax": return [try softmax(try variable(x))]
        case "Gemm": return [try gemm(operands)]
        case "MatMul": return [.float(try matmul(try variable(operands[0]), try variable(operands[1])))]
        case "Conv": return [try convolution(operands)]
        case "MaxPool", "AveragePool": return [try pool(try variable(x))]
        case "GlobalAveragePool":
            let v = try variable(x)
            guard v.shape.count >= 3 else { throw fail("input of shape \(v.shape) has no spatial axes") }
            return [.float(v.mean(alongAxes: Array(2..<v.shape.count), keepingDimensions: true))]
        case "BatchNormalization": return [try batchNormalization(operands)]
        case "LayerNormalization": return [try layerNormalization(operands)]
        case "Flatten":
            let shape = x!.shape
            let a = try axis(int("axis", 1), rank: shape.count + 1)
            return [try reshape(x!, [shape[..<a].reduce(1, *), shape[a...].reduce(1, *)])]
        case "Reshape": return [try reshape(x!, try reshapeTarget(x!.shape, try integers(operands[1]).values))]
        case "Transpose":
            let rank = x!.shape.count
            return [try permute(x!, ints("perm") ?? Array((0..<rank).reversed()))]
        case "Squeeze":
            let shape = x!.shape
            let axes = try (try axesOperand(operands, position: 1) ?? shape.indices.filter { shape[$0] == 1 }).map { try axis($0, rank: shape.count) }
            return [try reshape(x!, shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
        case "Unsqueeze":
            guard let list = try axesOperand(operands, position: 1) else { throw fail("no axes") }
            var shape = x!.shape
            let rank = shape.count + list.count
            let axes = try list.map { try axis($0, rank: rank) }.sorted()
            guard Set(axes).count == axes.count else { throw fail("axes \(list) name an axis twice") }
            for a in axes { shape.insert(1, at: a) }
            return [try reshape(x!, shape)]
        case "Concat": return [try concat(operands.compactMap { $0 }, axis: int("axis", 0))]
        case "Split": return try split(operands)
        case "SplitToSequence": return [try splitToSequence(operands)]
        case "SequenceAt":
            guard case .sequence(let items)? = operands[0] else { throw fail("the first input is not a sequence") }
            let position = try integers(operands[1]).values
            guard position.count == 1, (-items.count..<items.count).contains(position[0]) else {
                throw fail("position \(position) is outside a sequence of \(items.count)")
            }
            return [items[position[0] < 0 ? position[0] + items.count : position[0]]]
        case "Slice": return [try slice(operands)]
        case "Gather": return [try gather(operands[0]!, try integers(operands[1]))]
        case "GatherElements": return [try gatherElements(operands[0]!, try integers(operands[1]))]
        case "Shape":
            let shape = x!.shape
            let start = try clampedAxis(int("start", 0), shape.count), end = try clampedAxis(int("end", shape.count), shape.count)
            return [.integer(IntegerTensor(Array(shape[start..<max(start, end)])))]
        case "Constant": throw fail("Constant nodes are evaluated at import")
        case "ConstantOfShape":
            let shape = try integers(x).values
            try checkAllocation(shape)
            let fill = try constantFill()
            if !fill.isFloat {
                return [.integer(IntegerTensor(shape: shape, values: [Int](repeating: IntegerTensor.saturating(fill.value), count: shape.reduce(1, *))))]
            }
            return [.float(V(Tensor(repeating: Scalar(fill.value), shape: shape)))]
        case "ReduceMean", "ReduceSum": return [try reduce(operands)]
        case "Cast":
            let to = int("to", 1)
            if [1, 10, 11, 16].contains(to) { return [.float(try variable(x))] }
            if to == 9 {  // bool: any nonzero value is true, 0.5 included
                let values = try doubles(x)
                return [.integer(IntegerTensor(shape: values.shape, values: values.scalars.map { $0 != 0 ? 1 : 0 }))]
            }
            return [.integer(try integers(x))]
        case "Where":
            let condition = try integers(operands[0])
            _ = try broadcastShape(try broadcastShape(condition.shape, operands[1]!.shape), operands[2]!.shape)
            if case .integer(let a)? = operands[1], case .integer(let b)? = operands[2] {
                let c = condition.asTensor() as Tensor<Double>, av = a.asTensor() as Tensor<Double>, bv = b.asTensor() as Tensor<Double>
                let selected = V.selecting(c.converted(to: Scalar.self), V(av.converted(to: Scalar.self)), V(bv.converted(to: Scalar.self))).value
                return [.integer(IntegerTensor(saturating: selected))]
            }
            return [.float(V.selecting(condition.asTensor(), try variable(operands[1]), try variable(operands[2])))]
        case "Expand":
            let target = try integers(operands[1]).values
            guard target.allSatisfy({ $0 >= 0 }) else { throw fail("target shape \(target) has a negative extent") }
            let shape = try broadcastShape(x!.shape, target)
            try checkAllocation(shape)
            switch x! {
            case .sequence: throw sequenceOperand()
            case .float(let v): return [.float(v.broadcast(to: shape))]
            case .integer(let t):
                let full = (t.asTensor() as Tensor<Double>).broadcast(to: shape)
                return [.integer(IntegerTensor(saturating: full))]
            }
        default:
            throw fail("unsupported operator")
        }
    }

    /// ConstantOfShape's `value`: its one element and whether it is floating-point (0.0, float, when absent). Read
    /// by the tensor's type: a bool or int8 fill is one byte of raw data, a double eight.
    func constantFill() throws -> (value: Double, isFloat: Bool) {
        guard let tensor = attribute("value")?.t else { return (0, true) }
        let raw = tensor.rawData
        func first<T: FixedWidthInteger>(_: T.Type) -> Double? {
            raw.count >= MemoryLayout<T>.size ? Double(raw.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }) : nil
        }
        switch tensor.dataType {
        case 1: return (tensor.floatData.first.map(Double.init) ?? first(UInt32.self).map { Double(Float(bitPattern: UInt32($0))) } ?? 0, true)
        case 11: return (tensor.doubleData.first ?? first(UInt64.self).map { Double(bitPattern: UInt64($0)) } ?? 0, true)
        case 10: return (first(UInt16.self).map { Double(Float(Float16(bitPattern: UInt16($0)))) } ?? tensor.int32Data.first.map { Double(Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0)))) } ?? 0, true)
        case 16: return (first(UInt16.self).map { Double(Float(bitPattern: UInt32($0) << 16)) } ?? tensor.int32Data.first.map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16)) } ?? 0, true)
        case 2, 9: return (first(UInt8.self) ?? tensor.int32Data.first.map(Double.init) ?? 0, false)
        case 3: return (first(Int8.self) ?? tensor.int32Data.first.map(Double.init) ?? 0, false)
        case 4: return (first(UInt16.self) ?? tensor.int32Data.first.map(Double.init) ?? 0, false)
        case 5: return (first(Int16.self) ?? tensor.int32Data.first.map(Double.init) ?? 0, false)
        case 6: return (first(Int32.self) ?? tensor.int32Data.first.map(Double.init) ?? 0, false)
        case 7: return (first(Int64.self) ?? tensor.int64Data.first.map(Double.init) ?? 0, false)
        case 12: return (first(UInt32.self) ?? tensor.uint64Data.first.map(Double.init) ?? 0, false)
        case 13: return (first(UInt64.self) ?? tensor.uint64Data.first.map(Double.init) ?? 0, false)
        default: throw fail("a fill value of ONNX type \(tensor.dataType) is not supported")
        }
    }

    func clampedAxis(_ value: Int, _ rank: Int) throws -> Int { min(max(value < 0 ? value + rank : value, 0), rank) }

    func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            guard x == y || x == 1 || y == 1 else { throw fail("shapes \(a) and \(b) do not broadcast") }
            return x == 1 ? y : x  // 1 against 0 is 0: an empty axis stays empty
        }
    }

    // MARK: Elementwise

    func unary(_ x: Value?, _ f: (V) -> V) throws -> Value { .float(f(try variable(x))) }

    /// Clip (ReLU6 in MobileNetV2): `min(max(x, low), high)`, the bounds from inputs 1 and 2 (opset 11 on) or the
    /// min/max attributes, either absent for no bound; as ReLUs, so the derivative is 1 inside and 0 outside.
    func clip(_ operands: [Value?]) throws -> Value {
        func bound(_ position: Int, _ attribute: String) throws -> Double? {
            if operands.count > position, let value = operands[position] {
                let values = try doubles(value)
                guard values.count == 1 else { throw fail("the \(attribute) bound must be a scalar, got shape \(values.shape)") }
                return values.scalars[0]
            }
            return opset < 11 ? self.attribute(attribute).map { Double($0.f) } : nil
        }
        let low = try bound(1, "min"), high = try bound(2, "max")
        if let low, let high, !(low <= high) { throw fail("min \(low) is above max \(high)") }
        if case .integer(let t)? = operands[0] {
            return .integer(t.map { value in
                var v = value
                if let low { v = Swift.max(v, IntegerTensor.saturating(low.rounded(.up))) }
                if let high { v = Swift.min(v, IntegerTensor.saturating(high.rounded(.down))) }
                return v
            })
        }
        var y = try variable(operands[0])
        if let low { y = (y - V.constant(Scalar(low))).relu() + V.constant(Scalar(low)) }
        if let high { y = V.constant(Scalar(high)) - (V.constant(Scalar(high)) - y).relu() }
        return .float(y)
    }

    /// `max(0, min(1, alpha x + beta))`, as two ReLUs so that its derivative is alpha inside (0, 1) and 0 outside.
    func hardSigmoid(_ x: V, alpha: Double, beta: Double) -> V {
        let affine = x * Scalar(alpha) + V.constant(Scalar(beta))
        return affine.relu() - (affine - V.constant(1)).relu()
    }

    func arithmetic(_ a: Value?, _ b: Value?) throws -> Value {
        guard let a, let b else { throw fail("needs two inputs") }
        _ = try broadcastShape(a.shape, b.shape)
        if case .integer(let x) = a, case .integer(let y) = b {
            switch node.opType {
            // int64 arithmetic wraps, as ONNX runtimes' does; a power out of range saturates.
            case "Add": return .integer(.broadcasting(x, y, &+))
            case "Sub": return .integer(.broadcasting(x, y, &-))
            case "Mul": return .integer(.broadcasting(x, y, &*))
            case "Div": return .integer(.broadcasting(x, y) { $1 == 0 ? 0 : $0.dividedReportingOverflow(by: $1).partialValue })
            case "Equal": return .integer(.broadcasting(x, y) { $0 == $1 ? 1 : 0 })
            default: return .integer(.broadcasting(x, y) { IntegerTensor.saturating(Foundation.pow(Double($0), Double($1))) })
            }
        }
        let x = try variable(a), y = try variable(b)
        switch node.opType {
        case "Add": return .float(x + y)
        case "Sub": return .float(x - y)
        case "Mul": return .float(x * y)
        case "Div": return .float(x / y)
        case "Equal": return .integer(IntegerTensor(saturating: Tensor.broadcasting(x.value, y.value) { $0 == $1 ? 1 : 0 }))
        default:
            // A constant scalar exponent is the common case (x^2, x^0.5); otherwise exp(y log x).
            if !y.isDifferentiable, !y.carriesTangent, y.value.count == 1 { return .float(x.pow(y.value.scalars[0])) }
            return .float((y * x.log()).exp())
        }
    }

    func softmax(_ x: V) throws -> Value {
        let rank = x.shape.count
        let defaultAxis = opset >= 13 ? -1 : 1
        let a = try axis(int("axis", defaultAxis), rank: rank)
        let log = node.opType == "LogSoftmax"
        if opset >= 13 { return .float(log ? x.logSoftmax(alongAxis: a) : x.softmax(alongAxis: a)) }
        // Before opset 13 the input is coerced to 2-D at the axis.
        let flat = x.reshaped([x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)])
        return .float((log ? flat.logSoftmax(alongAxis: 1) : flat.softmax(alongAxis: 1)).reshaped(x.shape))
    }

    // MARK: Products

    func matmul(_ a: V, _ b: V) throws -> V {
        // NumPy semantics: 1-D operands are promoted and the added axis removed afterwards.
        let left = a.shape.count == 1 ? a.reshaped([1, a.shape[0]]) : a
        let right = b.shape.count == 1 ? b.reshaped([b.shape[0], 1]) : b
        guard !a.shape.isEmpty, !b.shape.isEmpty, left.shape.last == right.shape[right.shape.count - 2] else {
            throw fail("inner dimensions differ: \(a.shape) x \(b.shape)")
        }
        _ = try broadcastShape(Array(left.shape.dropLast(2)), Array(right.shape.dropLast(2)))
        var result = V.matmul(left, right)
        if a.shape.count == 1 { result = result.reshaped(Array(result.shape.dropLast(2)) + [result.shape.last!]) }
        if b.shape.count == 1 { result = result.reshaped(Array(result.shape.dropLast())) }
        return result
    }

    func gemm(_ operands: [Value?]) throws -> Value {
        let a = try variable(operands[0]), b = try variable(operands[1])
        let transposeA = int("transA", 0) != 0, transposeB = int("transB", 0) != 0
        guard a.shape.count == 2, b.shape.count == 2, a.shape[transposeA ? 0 : 1] == b.shape[transposeB ? 1 : 0] else {
            throw fail("shapes \(a.shape) and \(b.shape) do not multiply (transA \(transposeA ? 1 : 0), transB \(transposeB ? 1 : 0))")
        }
        let output = [a.shape[transposeA ? 1 : 0], b.shape[transposeB ? 0 : 1]]
        if operands.count > 2, let c = operands[2], (try? broadcastShape(output, c.shape)) != output {
            throw fail("C of shape \(c.shape) does not broadcast to the product's \(output)")
        }
        var y = V.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        let alpha = float("alpha", 1), beta = float("beta", 1)
        if alpha != 1 { y = y * Scalar(alpha) }
        if operands.count > 2, let c = operands[2] { y = y + (beta == 1 ? try variable(c) : try variable(c) * Scalar(beta)) }
        return .float(y)
    }

    // MARK: Convolution and pooling

    func padded(_ x: V, pads: [Int]) -> (V, (Int, Int)) {
        // Symmetric pads go to the kernel; asymmetric ones are applied here as zeros around the input.
        guard pads.count == 4 else { return (x, (0, 0)) }
        if pads[0] == pads[2] && pads[1] == pads[3] { return (x, (pads[0], pads[1])) }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let target = [n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]]
        return (x.embedded(in: target, at: [0..<n, 0..<c, pads[0]..<(pads[0] + h), pads[1]..<(pads[1] + w)]), (0, 0))
    }

    func checkAutoPad() throws {
        let mode = string("auto_pad", "NOTSET")
        guard mode == "NOTSET" || mode == "VALID" else { throw fail("auto_pad \(mode) is not supported; export with explicit pads") }
    }

    func convolution(_ operands: [Value?]) throws -> Value {
        try checkAutoPad()
        var x = try variable(operands[0])
        let w = try variable(operands[1])
        let bias = operands.count > 2 ? try operands[2].map(variable) : nil
        let spatial = w.shape.count - 2
        guard spatial == 1 || spatial == 2, x.shape.count == spatial + 2 else {
            throw fail("only 1-D and 2-D convolutions are supported (input \(x.shape), weight \(w.shape))")
        }
        let groups = int("group", 1)
        guard groups >= 1, w.shape[0] % groups == 0, x.shape[1] == w.shape[1] &* groups else {
            throw fail("input has \(x.shape[1]) channels but the weight \(w.shape) with \(groups) groups needs \(w.shape[1] &* groups)" +
                       " and \(groups) groups must divide its \(w.shape[0]) output channels")
        }
        let kernel = Array(w.shape.dropFirst(2))
        guard kernel.allSatisfy({ $0 >= 1 }), ints("kernel_shape").map({ $0 == kernel }) ?? true else {
            throw fail("kernel_shape \(ints("kernel_shape") ?? kernel) does not match the weight \(w.shape)")
        }
        if let bias, bias.shape != [w.shape[0]] { throw fail("bias has shape \(bias.shape) but the weight has \(w.shape[0]) output channels") }
        let strides = try axisValues("strides", count: spatial, default: 1, minimum: 1)
        let dilations = try axisValues("dilations", count: spatial, default: 1, minimum: 1)
        let pads = try padValues(spatial: spatial)
        try checkWindows(input: x.shape, kernel: kernel, dilations: dilations, pads: pads, strides: strides)
        if spatial == 1 {
            guard pads[0] == pads[1] else { throw fail("asymmetric 1-D padding is not supported") }
            return .float(V.conv1d(x, weight: w, bias: bias, stride: strides[0], padding: pads[0], dilation: dilations[0], groups: groups))
        }
        let padding: (Int, Int)
        (x, padding) = padded(x, pads: pads)
        return .float(V.conv2d(x, weight: w, bias: bias, stride: (strides[0], strides[1]), padding: padding,
                               dilation: (dilations[0], dilations[1]), groups: groups))
    }

    func pool(_ input: V) throws -> Value {
        try checkAutoPad()
        guard input.shape.count == 4, let kernel = ints("kernel_shape"), kernel.count == 2 else { throw fail("only 2-D pooling is supported") }
        guard int("ceil_mode", 0) == 0 else { throw fail("ceil_mode = 1 is not supported") }
        guard (ints("dilations") ?? [1, 1]) == [1, 1] else { throw fail("dilated pooling is not supported") }
        guard kernel.allSatisfy({ $0 >= 1 }) else { throw fail("kernel_shape \(kernel) must be positive") }
        let strides = try axisValues("strides", count: 2, default: 1, minimum: 1)
        let pads = try padValues(spatial: 2)
        guard pads[0] < kernel[0], pads[2] < kernel[0], pads[1] < kernel[1], pads[3] < kernel[1] else {
            throw fail("pads \(pads) must be smaller than the kernel \(kernel)")
        }
        try checkWindows(input: input.shape, kernel: kernel, dilations: [1, 1], pads: pads, strides: strides)
        let (x, padding) = node.opType == "MaxPool" ? paddedForMax(input, pads) : padded(input, pads: pads)
        let geometry = WindowGeometry(kernel: (kernel[0], kernel[1]), stride: (strides[0], strides[1]), padding: padding)
        if node.opType == "MaxPool" { return .float(x.maxPool2d(geometry)) }
        if int("count_include_pad", 0) != 0 || padding == (0, 0) { return .float(x.averagePool2d(geometry)) }
        // Exclude padding from the count: divide the window sums by the number of real elements in each window.
        let sums = x.averagePool2d(geometry) * Scalar(kernel[0] * kernel[1])
        let counts = V(Tensor<Scalar>(repeating: 1, shape: [1, 1, x.shape[2], x.shape[3]])).averagePool2d(geometry) * Scalar(kernel[0] * kernel[1])
        return .float(sums / counts)
    }

    /// Max pooling ignores padding, so asymmetric pads can be symmetric in the kernel when they differ by design.
    func paddedForMax(_ x: V, _ pads: [Int]) -> (V, (Int, Int)) {
        if pads.count == 4, pads[0] == pads[2], pads[1] == pads[3] { return (x, (pads[0], pads[1])) }
        // Pad with a very negative value so it never wins.
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let target = [n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]]
        let ranges = [0..<n, 0..<c, pads[0]..<(pads[0] + h), pads[1]..<(pads[1] + w)]
        let floor = V(Tensor(repeating: -Scalar.greatestFiniteMagnitude, shape: target))
        let mask = V(Tensor<Scalar>(repeating: 1, shape: x.shape)).embedded(in: target, at: ranges).value
        return (V.selecting(mask, x.embedded(in: target, at: ranges), floor), (0, 0))
    }

    // MARK: Normalisation

    func batchNormalization(_ operands: [Value?]) throws -> Value {
        let x = try variable(operands[0])
        guard x.shape.count >= 2 else { throw fail("input of shape \(x.shape) has no channel axis") }
        let parameters = try operands[1...4].map { try variable($0) }
        try checkPerChannel(parameters, names: ["scale", "bias", "mean", "var"], channels: x.shape[1])
        let epsilon = float("epsilon", 1e-5)
        guard epsilon.isFinite, epsilon >= 0 else { throw fail("epsilon \(epsilon) must be finite and non-negative") }
        let running = context.batchNormMode == .train ? nil : (mean: parameters[2], variance: parameters[3])
        return .float(x.batchNormalized(weight: parameters[0], bias: parameters[1], running: running, epsilon: Scalar(epsilon)).output)
    }

    func layerNormalization(_ operands: [Value?]) throws -> Value {
        let x = try variable(operands[0])
        let first = try axis(int("axis", -1), rank: x.shape.count)
        let normalised = Array(x.shape[first...])
        for operand in operands.dropFirst().prefix(2).compactMap({ $0 }) where (try? broadcastShape(normalised, operand.shape)) != normalised {
            throw fail("scale or bias of shape \(operand.shape) does not fit the normalised axes \(normalised)")
        }
        var y = x.standardized(alongAxes: Array(first..<x.shape.count), epsilon: Scalar(float("epsilon", 1e-5))) * (try variable(operands[1]))
        if operands.count > 2, let b = operands[2] { y = y + (try variable(b)) }
        return .float(y)
    }

    func reduce(_ operands: [Value?]) throws -> Value {
        let x = try variable(operands[0])
        // ReduceSum takes axes as an input from opset 13, ReduceMean from opset 18.
        var axes = try axesOperand(operands, position: 1)
        if axes == nil || axes!.isEmpty {
            if int("noop_with_empty_axes", 0) != 0 { return .float(x) }
            axes = Array(0..<x.shape.count)
        }
        let resolved = try axes!.map { try axis($0, rank: x.shape.count) }
        guard Set(resolved).count == resolved.count else { throw fail("axes \(axes!) name an axis twice") }
        let keep = int("keepdims", 1) != 0
        return .float(node.opType == "ReduceMean" ? x.mean(alongAxes: resolved, keepingDimensions: keep)
                      : x.sum(alongAxes: resolved, keepingDimensions: keep))
    }

    // MARK: Shapes

    func reshapeTarget(_ shape: [Int], _ target: [Int]) throws -> [Int] {
        let allowZero = int("allowzero", 0) != 0
        guard target.allSatisfy({ $0 >= -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw fail("reshape target \(target) may hold one -1 and otherwise non-negative extents")
        }
        var result = try target.enumerated().map { index, extent -> Int in
            if extent == 0 && !allowZero {
                guard index < shape.count else { throw fail("reshape copies axis \(index) of \(shape), which does not exist") }
                return shape[index]
            }
            return extent
        }
        let total = shape.reduce(1, *)
        if let unknown = result.firstIndex(of: -1) {
            let known = result.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 &* $1.element }
            guard known > 0, total % known == 0 else { throw fail("cannot reshape \(shape) to \(target)") }
            result[unknown] = total / known
        }
        guard MemoryBudget.size(result, bytesEach: 1) == total else { throw fail("cannot reshape \(shape) (\(total) elements) to \(target)") }
        return result
    }

    func reshape(_ value: Value, _ shape: [Int]) throws -> Value {
        guard value.shape.reduce(1, *) == shape.reduce(1, *) else { throw fail("cannot reshape \(value.shape) to \(shape)") }
        switch value {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.reshaped(shape))
        case .integer(let t): return .integer(IntegerTensor(shape: shape, values: t.values))
        }
    }

    func permute(_ value: Value, _ axes: [Int]) throws -> Value {
        guard axes.sorted() == Array(0..<value.shape.count) else { throw fail("permutation \(axes) does not fit \(value.shape)") }
        switch value {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.permuted(axes))
        case .integer(let t):
            let permuted = V(t.asTensor()).permuted(axes).value
            return .integer(IntegerTensor(saturating: permuted))
        }
    }

    func concat(_ parts: [Value], axis requested: Int) throws -> Value {
        let rank = parts[0].shape.count
        let a = try axis(requested, rank: rank)
        for part in parts where part.shape.count != rank || part.shape.indices.contains(where: { $0 != a && part.shape[$0] != parts[0].shape[$0] }) {
            throw fail("inputs of shapes \(parts.map(\.shape)) do not join along axis \(a): every other extent must agree")
        }
        if parts.allSatisfy({ if case .integer = $0 { true } else { false } }) {
            let tensors = try parts.map { try integers($0) }
            let joined = V.concatenated(tensors.map { V($0.asTensor()) }, axis: a).value
            return .integer(IntegerTensor(saturating: joined))
        }
        return .float(V.concatenated(try parts.map { try variable($0) }, axis: a))
    }

    func split(_ operands: [Value?]) throws -> [Value] {
        let x = try variable(operands[0])
        let a = try axis(int("axis", 0), rank: x.shape.count)
        var sizes = ints("split")
        if sizes == nil, operands.count > 1, let given = operands[1] { sizes = try integers(given).values }
        if sizes == nil {
            let count = int("num_outputs", node.output.count)
            guard count >= 1 else { throw fail("num_outputs must be at least 1, got \(count)") }
            let size = (x.shape[a] + count - 1) / count
            sizes = (0..<count).map { min(size, x.shape[a] - $0 * size) }
        }
        guard sizes!.allSatisfy({ $0 >= 0 }), sizes!.reduce(0, &+) == x.shape[a] else {
            throw fail("split sizes \(sizes!) are not non-negative extents that add up to \(x.shape[a])")
        }
        var offset = 0
        return sizes!.map { size in
            var ranges = x.shape.map { 0..<$0 }
            ranges[a] = offset..<(offset + size)
            offset += size
            return .float(x.sliced(ranges))
        }
    }

    /// SplitToSequence: pieces of the given sizes (a 1-D split), of one size with a shorter last (a scalar split), or
    /// of 1 with the axis dropped unless keepdims (no split).
    func splitToSequence(_ operands: [Value?]) throws -> Value {
        let x = try variable(operands[0])
        let a = try axis(int("axis", 0), rank: x.shape.count)
        let extent = x.shape[a]
        var sizes = [Int](repeating: 1, count: extent)
        var dropsAxis = int("keepdims", 1) == 0
        if operands.count > 1, let given = operands[1] {
            let split = try integers(given)
            dropsAxis = false
            if split.shape.isEmpty {
                guard let size = split.values.first, size >= 1 else { throw fail("split size \(split.values) must be at least 1") }
                sizes = stride(from: 0, to: extent, by: size).map { min(size, extent - $0) }
            } else {
                sizes = split.values
            }
        }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, &+) == extent else {
            throw fail("split sizes \(sizes) are not non-negative extents that add up to \(extent)")
        }
        var offset = 0
        return .sequence(sizes.map { size in
            var ranges = x.shape.map { 0..<$0 }
            ranges[a] = offset..<(offset + size)
            offset += size
            let piece = x.sliced(ranges)
            return .float(dropsAxis ? piece.reshaped(x.shape.enumerated().filter { $0.offset != a }.map(\.element)) : piece)
        })
    }

    func slice(_ operands: [Value?]) throws -> Value {
        let value = operands[0]!
        let shape = value.shape
        let starts: [Int], ends: [Int], axes: [Int]
        if opset >= 10, operands.count > 2 {
            starts = try integers(operands[1]).values
            ends = try integers(operands[2]).values
            axes = operands.count > 3 && operands[3] != nil ? try integers(operands[3]).values : Array(0..<starts.count)
            if operands.count > 4, let steps = operands[4], try integers(steps).values.contains(where: { $0 != 1 }) {
                throw fail("slices with steps other than 1 are not supported")
            }
        } else {
            starts = ints("starts") ?? []
            ends = ints("ends") ?? []
            axes = ints("axes") ?? Array(0..<starts.count)
        }
        guard starts.count == ends.count, axes.count == starts.count, Set(axes.map { $0 < 0 ? $0 + shape.count : $0 }).count == axes.count else {
            throw fail("starts \(starts), ends \(ends) and axes \(axes) must have one entry per distinct axis")
        }
        var ranges = shape.map { 0..<$0 }
        for (index, requested) in axes.enumerated() {
            let a = try axis(requested, rank: shape.count)
            let extent = shape[a]
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v &+ extent : v, 0), extent) }
            let lower = clamp(starts[index]), upper = max(lower, clamp(ends[index]))
            ranges[a] = lower..<upper
        }
        switch value {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.sliced(ranges))
        case .integer(let t):
            let sliced = V(t.asTensor()).sliced(ranges).value
            return .integer(IntegerTensor(saturating: sliced))
        }
    }

    func gather(_ data: Value, _ indices: IntegerTensor) throws -> Value {
        let shape = data.shape
        let a = try axis(int("axis", 0), rank: shape.count)
        let extent = shape[a]
        let resolved = indices.values.map { $0 < 0 ? $0 + extent : $0 }
        guard resolved.allSatisfy({ $0 >= 0 && $0 < extent }) else {
            throw fail("index outside 0..<\(extent) (an embedding input out of range?)")
        }
        // Flat source offsets of every output element: data[..., index, ...] along axis a.
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        var offsets: [Int] = []
        offsets.reserveCapacity(outer * resolved.count * inner)
        for o in 0..<outer { for index in resolved { for i in 0..<inner { offsets.append((o * extent + index) * inner + i) } } }
        let outputShape = Array(shape[..<a]) + indices.shape + Array(shape[(a + 1)...])
        switch data {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.gathered(offsets).reshaped(outputShape))
        case .integer(let t): return .integer(IntegerTensor(shape: outputShape, values: offsets.map { t.values[$0] }))
        }
    }

    /// ONNX GatherElements: `out[i_0, ..., i_r] = data[i_0, ..., indices[i_0, ..., i_r], ..., i_r]` along `axis`;
    /// the output has the indices' shape, which may be smaller than the data's on every axis.
    func gatherElements(_ data: Value, _ indices: IntegerTensor) throws -> Value {
        let shape = data.shape, rank = shape.count
        let a = try axis(int("axis", 0), rank: rank)
        guard indices.shape.count == rank else {
            throw fail("indices of rank \(indices.shape.count) for data of rank \(rank): GatherElements needs the same rank")
        }
        for k in 0..<rank where k != a && indices.shape[k] > shape[k] {
            throw fail("indices extent \(indices.shape[k]) on axis \(k) exceeds the data's \(shape[k])")
        }
        let extent = shape[a]
        var dataStrides = [Int](repeating: 1, count: rank)
        for k in stride(from: rank - 2, through: 0, by: -1) { dataStrides[k] = dataStrides[k + 1] * shape[k + 1] }
        var offsets: [Int] = []
        offsets.reserveCapacity(indices.values.count)
        var position = [Int](repeating: 0, count: rank)
        for value in indices.values {
            let index = value < 0 ? value + extent : value
            guard index >= 0 && index < extent else { throw fail("index \(value) outside 0..<\(extent) on axis \(a)") }
            var offset = 0
            for k in 0..<rank { offset += (k == a ? index : position[k]) * dataStrides[k] }
            offsets.append(offset)
            var k = rank - 1
            while k >= 0 {
                position[k] += 1
                if position[k] < indices.shape[k] { break }
                position[k] = 0
                k -= 1
            }
        }
        switch data {
        case .sequence: throw sequenceOperand()
        case .float(let v): return .float(v.gathered(offsets).reshaped(indices.shape))
        case .integer(let t): return .integer(IntegerTensor(shape: indices.shape, values: offsets.map { t.values[$0] }))
        }
    }
}

import Autodiff
import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Reporting

/// An ONNX graph as a differentiable model (a `Layer`), run node by node on the autodiff tape.
///
/// Float initializers that act as weights, biases or scales are parameters, named as in the file; BatchNormalization
/// running means and variances are buffers; integer tensors and scalar constants are constants. Opsets 11 to 21 of
/// the default domain. Parameters and buffers start at the file's values (`makeParameters`, `makeBuffers`).
///
/// Tensors the exporter stored once are untied (``untiedTensors``): PyTorch's TorchScript exporter keeps one copy of
/// bit-identical tensors and recreates the others as `Identity` nodes whose outputs carry the framework's names (in a
/// freshly initialised ResNet every BatchNorm weight equals its running variance, every bias its running mean). Each
/// such output is a tensor of its own here, so a BatchNorm's bias is not also its running mean, and the parameter
/// count is the framework's. A running statistic read directly from a tensor that is also a parameter gets its own
/// copy too. One initializer read directly by two parameter roles stays one parameter: that is how a genuinely
/// shared parameter (GPT-2's tied embedding) is exported, and how PyTorch counts it.
public struct ONNXGraphModel: Layer, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; the protobuf node messages are value types.
    public let file: String
    public let opset: Int
    /// The graph's data inputs in the file's order: the first is the model's input, the others are read by name
    /// from the scope (`Dataset.namedInputs`, in NeuralNetworks).
    public let graphInputs: [GraphInput]
    /// The first data input's name, element type and declared shape.
    public var inputName: String { graphInputs[0].name }
    public var inputType: String { graphInputs[0].type }
    public var inputShape: [Int?] { graphInputs[0].shape }
    public let outputName: String
    /// True when the model has convolutions but no BatchNormalization and its conv weights carry the names the
    /// PyTorch exporter gives BatchNorm-folded weights ("onnx::Conv_*"): it is analysed as given.
    public let batchNormFolded: Bool
    /// The graph has convolutions and no BatchNormalization: where BatchNorm, if the model had it, was folded.
    public let hasConvolutionsWithoutBatchNorm: Bool
    public let parameterShapes: [(name: String, shape: [Int])]
    /// The output axis of each parameter with rank > 1, read from the node that consumes it: 0 for Conv weights and
    /// for Gemm's B with transB = 1 (PyTorch's (out, in) Linear), the last axis for Gemm's B without transB and for a
    /// MatMul's right operand ((in, out), as exported MatMul initializers are). Filter normalisation slices along it.
    public let outputAxes: [String: Int]
    public let bufferShapes: [(name: String, shape: [Int])]
    /// Parameters and buffers that the file stored as another tensor, each now a tensor of its own.
    public let untiedTensors: [UntiedTensor]

    /// A data input of the graph: its name, element type ("float32", "int64", ...) and declared shape (extents, nil
    /// for symbolic ones such as the batch axis).
    public struct GraphInput: Sendable, Equatable {
        public var name: String
        public var type: String
        public var shape: [Int?]
        public var isInteger: Bool { type.hasPrefix("int") || type.hasPrefix("uint") || type == "bool" }
    }

    /// A tensor the file held only as a copy of another (`storedAs`), untied into its own parameter or buffer.
    public struct UntiedTensor: Sendable, Equatable, Codable {
        public var name: String
        public var storedAs: String
    }


    private let nodes: [Onnx_NodeProto]
    private let parameterValues: [StoredTensor]
    private let bufferValues: [StoredTensor]
    private let floatConstants: [String: Tensor<Double>]
    private let integerConstants: [String: IntegerTensor]
    private let constantNodeValues: [String: StoredTensor]

    /// The operators this importer runs.
    public static let supportedOperators: [String] = [
        "Add", "And", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Clip", "Concat", "Constant",
        "ConstantOfShape", "Conv", "Cos", "CumSum", "Div", "Dropout", "Equal", "Erf", "Exp", "Expand", "Flatten",
        "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "Greater", "GreaterOrEqual",
        "HardSigmoid", "HardSwish", "Identity", "IsNaN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual",
        "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mod", "Mul", "Neg", "Not", "Or", "Pow", "Range",
        "Reciprocal", "ReduceMean", "ReduceSum", "Relu", "Reshape", "SequenceAt", "Shape", "Sigmoid", "Sin", "Slice",
        "Softmax", "Split", "SplitToSequence", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where", "Xor",
    ]

    public init(_ onnx: ONNXModel) throws {
        file = onnx.path
        let graph = onnx.model.graph
        guard let version = onnx.model.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })?.version else {
            throw ImportError(file: file, "the model imports no default-domain opset")
        }
        opset = Int(version)
        guard (11...21).contains(opset) else {
            throw ImportError(file: file, "opset \(opset) is not supported (11 to 21 are); re-export with opset_version=17")
        }
        for node in graph.node where !Self.supportedOperators.contains(node.opType) || !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw ImportError(file: file, "unsupported ONNX operator '\(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType)' " +
                              "(node '\(node.name)', opset \(opset)); supported: \(Self.supportedOperators.joined(separator: ", "))")
        }
        let initializerNames = Set(graph.initializer.map(\.name))
        // Identity nodes that recreate a deduplicated initializer under its own name: output -> stored tensor.
        var storedAs: [String: String] = [:]
        for node in graph.node where node.opType == "Identity" && node.input.count == 1 && node.output.count == 1 {
            let source = storedAs[node.input[0]] ?? node.input[0]
            if initializerNames.contains(source), !initializerNames.contains(node.output[0]) { storedAs[node.output[0]] = source }
        }
        var graphNodes = graph.node.filter { !($0.opType == "Identity" && storedAs[$0.output.first ?? ""] != nil) }
        var untied = graphNodes.flatMap(\.input).reduce(into: [String]()) { names, name in
            if storedAs[name] != nil, !names.contains(name) { names.append(name) }
        }.map { UntiedTensor(name: $0, storedAs: storedAs[$0]!) }
        let inputs = graph.input.filter { !initializerNames.contains($0.name) }
        guard !inputs.isEmpty, let output = graph.output.first else {
            throw ImportError(file: file, "the graph needs a data input and an output (has \(inputs.count) inputs and \(graph.output.count) outputs)")
        }
        guard Set(inputs.map(\.name)).count == inputs.count else {
            throw ImportError(file: file, "the graph declares an input twice (\(inputs.map { Rendering.printable($0.name) }.joined(separator: ", ")))")
        }
        graphInputs = inputs.map { input in
            GraphInput(name: input.name, type: ONNXModel.dataTypeNames[input.type.tensorType.elemType] ?? "unknown",
                       shape: input.type.tensorType.shape.dim.map { if case .dimValue(let v) = $0.value { Int(v) } else { nil } })
        }
        outputName = output.name

        // A running statistic read directly from a tensor that some node also uses as a parameter gets its own copy.
        let parameterRoles = Set(graphNodes.flatMap { node -> [String] in
            switch node.opType {
            case "BatchNormalization": Array(node.input.dropFirst().prefix(2))
            case "Conv", "Gemm", "LayerNormalization": Array(node.input.dropFirst())
            case "MatMul": Array(node.input)
            default: []
            }
        })
        for index in graphNodes.indices where graphNodes[index].opType == "BatchNormalization" {
            for (slot, role) in [(3, "input_mean"), (4, "input_var")] where graphNodes[index].input.count > slot {
                let name = graphNodes[index].input[slot]
                guard parameterRoles.contains(name), initializerNames.contains(name) || storedAs[name] != nil else { continue }
                let copy = "\(graphNodes[index].name.isEmpty ? name : graphNodes[index].name).\(role)"
                graphNodes[index].input[slot] = copy
                storedAs[copy] = storedAs[name] ?? name
                untied.append(UntiedTensor(name: copy, storedAs: storedAs[copy]!))
            }
        }
        nodes = graphNodes
        untiedTensors = untied

        // Roles of initializers by how nodes use them.
        var bufferNames = Set<String>(), weightNames = Set<String>()
        var axes: [String: Int] = [:]
        var ranks = Dictionary(graph.initializer.map { ($0.name, $0.dims.count) }, uniquingKeysWith: { a, _ in a })
        for (name, source) in storedAs { ranks[name] = ranks[source] }
        for node in graphNodes {
            let operands = Array(node.input)
            switch node.opType {
            case "Conv" where operands.count > 1: axes[operands[1]] = 0
            case "Gemm" where operands.count > 1:
                let transposed = node.attribute.first { $0.name == "transB" }?.i ?? 0
                axes[operands[1]] = transposed == 1 ? 0 : 1
            case "MatMul" where operands.count > 1:
                if let rank = ranks[operands[1]] { axes[operands[1]] = rank - 1 }
                if let rank = ranks[operands[0]], ranks[operands[1]] == nil { axes[operands[0]] = max(0, rank - 2) }
            default: break
            }
            switch node.opType {
            case "BatchNormalization":
                bufferNames.formUnion(operands.dropFirst(3).prefix(2))
                weightNames.formUnion(operands.dropFirst().prefix(2))
            case "Conv", "Gemm", "LayerNormalization": weightNames.formUnion(operands.dropFirst())
            case "MatMul": weightNames.formUnion(operands)
            default: break
            }
        }
        var parameters: [StoredTensor] = [], buffers: [StoredTensor] = []
        var floats: [String: Tensor<Double>] = [:], integers: [String: IntegerTensor] = [:]
        let stored = try graph.initializer.map { try onnx.decode($0) }
        let storedByName = Dictionary(stored.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let copies = untied.map { tensor in
            let source = storedByName[tensor.storedAs]!
            return StoredTensor(descriptor: TensorDescriptor(name: tensor.name, dtype: source.dtype, shape: source.shape), data: source.data)
        }
        // A stored tensor that only its copies read is gone from the graph.
        let read = Set(graphNodes.flatMap(\.input))
        let copied = Set(untied.map(\.storedAs))
        // File order, each untied copy placed after the stored tensor that the graph reads just before it (a
        // BatchNorm's scale after its convolution's weight): for an exported module, the order of its parameters.
        let kept = stored.filter { read.contains($0.name) || !copied.contains($0.name) }
        var copiesAfter: [String: [StoredTensor]] = [:]
        var anchor = ""
        var placed = Set<String>()
        for name in graphNodes.flatMap(\.input) {
            if let copy = copies.first(where: { $0.name == name }), placed.insert(name).inserted {
                copiesAfter[anchor, default: []].append(copy)
            } else if storedByName[name] != nil {
                anchor = name
            }
        }
        let tensors = (copiesAfter[""] ?? []) + kept.flatMap { [$0] + (copiesAfter[$0.name] ?? []) }
        // The dynamo exporter says which initializers were buffers (a Llama's rotary inv_freq) in the value infos'
        // metadata: never parameters; persistent ones are buffers that --weights fills, the others constants.
        let exportedKinds = Dictionary(graph.valueInfo.compactMap { info -> (String, (kind: String, persistent: Bool))? in
            let metadata = Dictionary(info.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            guard let kind = metadata["pkg.torch.export.graph_signature.InputSpec.kind"] else { return nil }
            return (info.name, (kind, metadata["pkg.torch.export.graph_signature.InputSpec.persistent"] == "True"))
        }, uniquingKeysWith: { a, _ in a })
        for tensor in tensors {
            if let exported = exportedKinds[tensor.name], exported.kind == "BUFFER" || exported.kind == "CONSTANT_TENSOR", tensor.dtype.isFloatingPoint {
                if exported.persistent { buffers.append(tensor) } else { floats[tensor.name] = tensor.tensor(Double.self) }
            } else if !tensor.dtype.isFloatingPoint {
                integers[tensor.name] = IntegerTensor(shape: tensor.shape, values: tensor.integers().map { Int($0) })
            } else if bufferNames.contains(tensor.name) {
                buffers.append(tensor)
            } else if weightNames.contains(tensor.name) || tensor.descriptor.elementCount > 1 {
                parameters.append(tensor)
            } else {
                floats[tensor.name] = tensor.tensor(Double.self)
            }
        }
        parameterValues = parameters
        bufferValues = buffers
        floatConstants = floats
        integerConstants = integers
        parameterShapes = parameters.map { ($0.name, $0.shape) }
        outputAxes = axes.filter { name, _ in parameters.contains { $0.name == name } }
        bufferShapes = buffers.map { ($0.name, $0.shape) }
        var constants: [String: StoredTensor] = [:]
        for node in graph.node where node.opType == "Constant" {
            guard let attribute = node.attribute.first, attribute.name == "value" || attribute.name.hasPrefix("value_") else {
                throw ImportError(file: file, "Constant node '\(Rendering.printable(node.name))' has no value")
            }
            guard node.output.count == 1 else {
                throw ImportError(file: file, "Constant node '\(Rendering.printable(node.name))' has \(node.output.count) outputs, not one")
            }
            constants[node.output[0]] = try Self.constantValue(attribute, model: onnx)
        }
        constantNodeValues = constants
        let ops = Set(graph.node.map(\.opType))
        hasConvolutionsWithoutBatchNorm = ops.contains("Conv") && !ops.contains("BatchNormalization")
        batchNormFolded = hasConvolutionsWithoutBatchNorm && parameters.contains { $0.name.hasPrefix("onnx::Conv") }
    }

    private static func constantValue(_ attribute: Onnx_AttributeProto, model: ONNXModel) throws -> StoredTensor {
        switch attribute.name {
        case "value": return try model.decode(attribute.t)
        case "value_float": return StoredTensor(name: "", tensor: Tensor<Double>(repeating: Double(attribute.f), shape: []))
        case "value_floats": return StoredTensor(name: "", tensor: Tensor<Double>(attribute.floats.map(Double.init)))
        case "value_int", "value_ints":
            let values = attribute.name == "value_int" ? [attribute.i] : attribute.ints
            var data = Data()
            for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
            return StoredTensor(descriptor: TensorDescriptor(name: "", dtype: .int64, shape: attribute.name == "value_int" ? [] : [values.count]), data: data)
        default: throw ImportError(file: model.path, "Constant attribute '\(attribute.name)' is not supported")
        }
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        parameterValues.map { ($0.name, $0.tensor(Scalar.self)) }
    }

    public func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)] {
        bufferValues.map { ($0.name, $0.tensor(Scalar.self)) }
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        do {
            return try run(input, parameters)
        } catch {
            // The graph was validated when imported; a failure here is a shape the graph cannot take.
            preconditionFailure("\(file): \(error)")
        }
    }

    /// Runs the graph; throws `ImportError` for inputs the graph cannot take. With `checkingFinite`, the first node
    /// whose output holds NaN or an infinity is named in an error (the graph's inputs and weights having been checked
    /// finite, that node is where the non-finite values start).
    // Specialised: the finiteness scan over every node's output ran through generic witnesses element by element
    // (a ViT's forward pass took 22 s instead of 1 s).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func run<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>,
                                          checkingFinite: Bool = false) throws -> Variable<Scalar> {
        var values: [String: GraphValue<Scalar>] = [:]
        for (index, graphInput) in graphInputs.enumerated() {
            let value: Variable<Scalar>
            if index == 0 {
                value = input
            } else if let named = parameters.inputs[graphInput.name] {
                value = Variable(named)
            } else {
                throw ImportError(file: file, "the model's input '\(Rendering.printable(graphInput.name))' has no data " +
                                  "(the data holds: \(([inputName] + parameters.inputs.keys.sorted()).joined(separator: ", ")))")
            }
            values[graphInput.name] = graphInput.isInteger
                ? .integer(IntegerTensor(shape: value.shape, values: value.value.scalars.map { Int($0) })) : .float(value)
        }
        for (name, _) in parameterShapes + bufferShapes { values[name] = .float(parameters(name)) }
        for (name, tensor) in floatConstants { values[name] = .float(Variable(tensor.converted(to: Scalar.self))) }
        for (name, tensor) in integerConstants { values[name] = .integer(tensor) }
        for (name, tensor) in constantNodeValues {
            values[name] = tensor.dtype.isFloatingPoint ? .float(Variable(tensor.tensor(Scalar.self)))
                : .integer(IntegerTensor(shape: tensor.shape, values: tensor.integers().map { Int($0) }))
        }
        for node in nodes where node.opType != "Constant" {
            let operands = try node.input.map { name -> GraphValue<Scalar>? in
                if name.isEmpty { return nil }
                guard let value = values[name] else { throw ImportError(file: file, "node '\(node.name)' reads '\(name)' before it is computed") }
                return value
            }
            let results = try GraphOperators(file: file, node: node, opset: opset, context: parameters.context).apply(operands)
            if checkingFinite {
                for case (let name, .float(let value)) in zip(node.output, results) {
                    if let index = value.value.scalars.firstIndex(where: { !$0.isFinite }) {
                        throw ImportError(file: file, "node '\(Rendering.printable(node.name))' (\(node.opType)) turns finite inputs into " +
                                          "\(value.value.scalars[index]) (output '\(Rendering.printable(name))', element \(index) of shape \(value.shape)): " +
                                          "the loss would not be finite")
                    }
                }
            }
            for (name, value) in zip(node.output, results) where !name.isEmpty { values[name] = value }
        }
        guard case .float(let output)? = values[outputName] else {
            throw ImportError(file: file, "the output '\(outputName)' is not a floating-point tensor")
        }
        return output
    }
}

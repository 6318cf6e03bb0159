import Foundation
import Autodiff
import LinearAlgebra

/// How BatchNorm normalises: with its running statistics (eval, the default for analysis) or with the current
/// batch's statistics (train; the loss then depends on how the data is batched).
public enum BatchNormMode: String, Sendable, Codable {
    case eval, train
}

/// State shared by the layers of one forward pass: the BatchNorm mode, whether this is a training step (dropout
/// active, running statistics updated), the seeded source of dropout masks, and the running-statistics updates.
public final class ForwardContext<Scalar: TensorScalar>: @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    public let batchNormMode: BatchNormMode
    public let training: Bool
    private var random: SeededRandom
    private var updates: [String: Tensor<Scalar>] = [:]
    private let lock = NSLock()

    public init(batchNormMode: BatchNormMode = .eval, training: Bool = false, seed: UInt64 = 0) {
        self.batchNormMode = training ? .train : batchNormMode
        self.training = training
        random = SeededRandom(seed: seed)
    }

    /// Uniform numbers for a dropout mask.
    func uniforms(_ count: Int) -> [Double] {
        lock.lock()
        defer { lock.unlock() }
        return (0..<count).map { _ in random.uniformDouble() }
    }

    /// Records a new value for a buffer (running statistics after a training step).
    func update(_ name: String, _ value: Tensor<Scalar>) {
        lock.lock()
        defer { lock.unlock() }
        updates[name] = value
    }

    /// The buffer values written during the pass.
    public var bufferUpdates: [String: Tensor<Scalar>] {
        lock.lock()
        defer { lock.unlock() }
        return updates
    }
}

/// What a layer sees while it runs: its parameters (differentiable variables or constants) and buffers, by name
/// under the layer's prefix, and the pass's context.
public struct ParameterScope<Scalar: TensorScalar> {
    let values: [String: Variable<Scalar>]
    let prefix: String
    public let context: ForwardContext<Scalar>
    /// The model's inputs other than the first, by name (``Dataset/namedInputs``).
    public let inputs: [String: Tensor<Scalar>]

    public init(_ values: [String: Variable<Scalar>], prefix: String = "", context: ForwardContext<Scalar> = ForwardContext(),
                inputs: [String: Tensor<Scalar>] = [:]) {
        self.values = values
        self.prefix = prefix
        self.context = context
        self.inputs = inputs
    }

    /// This scope with `inputs` as the model's named inputs.
    public func with(inputs: [String: Tensor<Scalar>]) -> ParameterScope {
        ParameterScope(values, prefix: prefix, context: context, inputs: inputs)
    }

    public func callAsFunction(_ name: String) -> Variable<Scalar> {
        guard let value = values[prefix + name] else { preconditionFailure("no parameter or buffer named \(prefix + name)") }
        return value
    }

    /// The full name of one of this layer's parameters or buffers.
    public func qualified(_ name: String) -> String { prefix + name }

    /// The scope of a sublayer, e.g. "0." in a Sequential.
    public func child(_ name: String) -> ParameterScope {
        ParameterScope(values, prefix: prefix + name + ".", context: context, inputs: inputs)
    }
}

/// A network layer as a value: it names and shapes its parameters and buffers, initialises them as PyTorch does,
/// and maps an input variable to an output variable given them.
public protocol Layer: Sendable {
    /// Parameter names (relative to the layer) and shapes, in PyTorch's order.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Buffers: state that is not trained by gradients (BatchNorm's running statistics). Never part of a Hessian.
    var bufferShapes: [(name: String, shape: [Int])] { get }
    func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar>
    /// PyTorch's default initialisation, drawn from `random`.
    func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)]
    func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)]
}

extension Layer {
    public var bufferShapes: [(name: String, shape: [Int])] { [] }
    public func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)] { [] }

    /// A parameter set initialised as PyTorch would (same distributions; the stream is Curvature's own).
    public func makeParameters<Scalar: TensorScalar>(seed: UInt64, as _: Scalar.Type = Scalar.self) -> ParameterSet<Scalar> {
        var random = SeededRandom(seed: seed)
        return ParameterSet(initialParameters(using: &random))
    }

    /// The buffers' initial values.
    public func makeBuffers<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> ParameterSet<Scalar> {
        ParameterSet(initialBuffers())
    }

    /// Runs the layer on a batch: its first input as the input, the others as the scope's named inputs.
    public func callAsFunction<Scalar: TensorScalar>(_ batch: Dataset<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        self(Variable(batch.inputs), parameters.with(inputs: batch.namedInputs))
    }

    /// Runs the layer on constant parameters and buffers (no derivatives), BatchNorm in eval mode.
    public func callAsFunction<Scalar: TensorScalar>(
        _ input: Tensor<Scalar>, parameters: ParameterSet<Scalar>, buffers: ParameterSet<Scalar> = ParameterSet([])
    ) -> Tensor<Scalar> {
        let pairs = zip(parameters.names + buffers.names, (parameters.tensors + buffers.tensors).map { Variable($0) })
        return self(Variable(input), ParameterScope(Dictionary(uniqueKeysWithValues: Array(pairs)))).value
    }
}

/// `y = x W^T + b`, weight (out, in), bias (out), as torch.nn.Linear.
public struct Linear: Layer {
    public var inputFeatures: Int
    public var outputFeatures: Int
    public var hasBias: Bool

    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true) {
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        hasBias = bias
    }

    public var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputFeatures, inputFeatures])] + (hasBias ? [("bias", [outputFeatures])] : [])
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        let product = (input.shape.count == 2 ? Variable.matmul(input, parameters("weight"), transposeA: false, transposeB: true)
                                               : Variable.matmul(input, parameters("weight").transposed()))
        return hasBias ? product + parameters("bias") : product
    }

    /// Kaiming-uniform with a = sqrt(5): weight and bias uniform on (-1/sqrt(in), 1/sqrt(in)).
    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        let bound = 1 / Double(inputFeatures).squareRoot()
        return [("weight", uniformTensor([outputFeatures, inputFeatures], bound: bound, using: &random))]
            + (hasBias ? [("bias", uniformTensor([outputFeatures], bound: bound, using: &random))] : [])
    }
}

/// Parameter-free elementwise activations.
public enum Activation: Layer, Equatable {
    case relu, tanh, sigmoid, softplus, gelu, geluTanh
    case leakyRelu(slope: Double)

    public var parameterShapes: [(name: String, shape: [Int])] { [] }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        switch self {
        case .relu: input.relu()
        case .tanh: input.tanh()
        case .sigmoid: input.sigmoid()
        case .softplus: input.softplus()
        case .gelu: input.gelu()
        case .geluTanh: input.geluTanh()
        case .leakyRelu(let slope): input.leakyRelu(slope: Scalar(slope))
        }
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] { [] }
}

/// Layers applied in order. Their parameters and buffers are named "index.name", as torch.nn.Sequential names
/// them, or "name.name" for named children.
public struct Sequential: Layer {
    public var layers: [(name: String, layer: any Layer)]

    public init(_ layers: [any Layer]) { self.layers = layers.enumerated().map { (String($0.offset), $0.element) } }
    public init(_ layers: any Layer...) { self.init(layers) }
    /// Children with explicit names (a ResNet block's "conv1", "bn1", ...).
    public init(named layers: [(String, any Layer)]) { self.layers = layers.map { ($0.0, $0.1) } }

    public var parameterShapes: [(name: String, shape: [Int])] {
        layers.flatMap { name, layer in layer.parameterShapes.map { ("\(name).\($0.name)", $0.shape) } }
    }

    public var bufferShapes: [(name: String, shape: [Int])] {
        layers.flatMap { name, layer in layer.bufferShapes.map { ("\(name).\($0.name)", $0.shape) } }
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        var x = input
        for (name, layer) in layers { x = layer(x, parameters.child(name)) }
        return x
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        layers.flatMap { name, layer -> [(String, Tensor<Scalar>)] in
            let parameters: [(String, Tensor<Scalar>)] = layer.initialParameters(using: &random)
            return parameters.map { ("\(name).\($0.0)", $0.1) }
        }
    }

    public func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)] {
        layers.flatMap { name, layer -> [(String, Tensor<Scalar>)] in
            let buffers: [(String, Tensor<Scalar>)] = layer.initialBuffers()
            return buffers.map { ("\(name).\($0.0)", $0.1) }
        }
    }
}

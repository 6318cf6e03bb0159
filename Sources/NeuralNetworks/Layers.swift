import Autodiff
import LinearAlgebra

/// The parameters a layer sees while it runs: differentiable variables or constants, looked up by name under the
/// layer's prefix.
public struct ParameterScope<Scalar: TensorScalar> {
    let values: [String: Variable<Scalar>]
    let prefix: String

    public init(_ values: [String: Variable<Scalar>], prefix: String = "") {
        self.values = values
        self.prefix = prefix
    }

    public func callAsFunction(_ name: String) -> Variable<Scalar> {
        guard let value = values[prefix + name] else { preconditionFailure("no parameter named \(prefix + name)") }
        return value
    }

    /// The scope of a sublayer, e.g. "0." in a Sequential.
    public func child(_ name: String) -> ParameterScope {
        ParameterScope(values, prefix: prefix + name + ".")
    }
}

/// A network layer as a value: it names and shapes its parameters, initialises them as PyTorch does, and maps an
/// input variable to an output variable given its parameters.
public protocol Layer: Sendable {
    /// Parameter names (relative to the layer) and shapes, in PyTorch's order.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar>
    /// PyTorch's default initialisation, drawn from `random`.
    func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)]
}

extension Layer {
    /// A parameter set initialised as PyTorch would (same distributions; the stream is Curvature's own).
    public func makeParameters<Scalar: TensorScalar>(seed: UInt64, as _: Scalar.Type = Scalar.self) -> ParameterSet<Scalar> {
        var random = SeededRandom(seed: seed)
        return ParameterSet(initialParameters(using: &random))
    }

    /// Runs the layer on constant parameters (no derivatives).
    public func callAsFunction<Scalar: TensorScalar>(_ input: Tensor<Scalar>, parameters: ParameterSet<Scalar>) -> Tensor<Scalar> {
        let scope = ParameterScope(Dictionary(uniqueKeysWithValues: zip(parameters.names, parameters.tensors.map { Variable($0) })))
        return self(Variable(input), scope).value
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
        let product = Variable.matmul(input, parameters("weight").transposed())
        return hasBias ? product + parameters("bias") : product
    }

    /// Kaiming-uniform with a = sqrt(5): weight and bias uniform on (-1/sqrt(in), 1/sqrt(in)).
    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        let bound = 1 / Double(inputFeatures).squareRoot()
        func uniform(_ shape: [Int]) -> Tensor<Scalar> {
            Tensor<Double>.uniform(shape: shape, using: &random).map { (2 * $0 - 1) * bound }.converted(to: Scalar.self)
        }
        return [("weight", uniform([outputFeatures, inputFeatures]))] + (hasBias ? [("bias", uniform([outputFeatures]))] : [])
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

/// Layers applied in order; their parameters are named "index.name", as torch.nn.Sequential names them.
public struct Sequential: Layer {
    public var layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }
    public init(_ layers: any Layer...) { self.layers = layers }

    public var parameterShapes: [(name: String, shape: [Int])] {
        layers.enumerated().flatMap { index, layer in layer.parameterShapes.map { ("\(index).\($0.name)", $0.shape) } }
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        var x = input
        for (index, layer) in layers.enumerated() { x = layer(x, parameters.child(String(index))) }
        return x
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        layers.enumerated().flatMap { index, layer -> [(String, Tensor<Scalar>)] in
            let parameters: [(String, Tensor<Scalar>)] = layer.initialParameters(using: &random)
            return parameters.map { ("\(index).\($0.0)", $0.1) }
        }
    }
}

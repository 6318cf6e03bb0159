import Autodiff
import LinearAlgebra

/// Uniform on (-bound, bound): PyTorch's kaiming_uniform(a = sqrt(5)) and bias initialisation both reduce to
/// bound = 1 / sqrt(fan_in).
func uniformTensor<Scalar: TensorScalar>(_ shape: [Int], bound: Double, using random: inout SeededRandom) -> Tensor<Scalar> {
    Tensor<Double>.uniform(shape: shape, using: &random).map { (2 * $0 - 1) * bound }.converted(to: Scalar.self)
}

/// torch.nn.Conv2d: weight [out, in / groups, kh, kw], bias [out].
public struct Conv2d: Layer {
    public var inputChannels: Int, outputChannels: Int
    public var geometry: WindowGeometry
    public var groups: Int
    public var hasBias: Bool

    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true) {
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0, "channels must divide into groups")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        geometry = WindowGeometry(kernel: kernelSize, stride: stride, padding: padding, dilation: dilation)
        self.groups = groups
        hasBias = bias
    }

    /// A square kernel with equal stride, padding and dilation on both axes.
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inputChannels, outputChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), dilation: (dilation, dilation), groups: groups, bias: bias)
    }

    var weightShape: [Int] { [outputChannels, inputChannels / groups, geometry.kernel.0, geometry.kernel.1] }

    public var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", weightShape)] + (hasBias ? [("bias", [outputChannels])] : [])
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        Variable.conv2d(input, weight: parameters("weight"), bias: hasBias ? parameters("bias") : nil, stride: geometry.stride,
                        padding: geometry.padding, dilation: geometry.dilation, groups: groups)
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        let bound = 1 / Double(inputChannels / groups * geometry.kernel.0 * geometry.kernel.1).squareRoot()
        return [("weight", uniformTensor(weightShape, bound: bound, using: &random))]
            + (hasBias ? [("bias", uniformTensor([outputChannels], bound: bound, using: &random))] : [])
    }
}

/// torch.nn.Conv1d: weight [out, in / groups, k], bias [out].
public struct Conv1d: Layer {
    public var inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, dilation: Int, groups: Int
    public var hasBias: Bool

    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        (self.inputChannels, self.outputChannels, self.kernelSize) = (inputChannels, outputChannels, kernelSize)
        (self.stride, self.padding, self.dilation, self.groups, hasBias) = (stride, padding, dilation, groups, bias)
    }

    public var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputChannels, inputChannels / groups, kernelSize])] + (hasBias ? [("bias", [outputChannels])] : [])
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        Variable.conv1d(input, weight: parameters("weight"), bias: hasBias ? parameters("bias") : nil, stride: stride,
                        padding: padding, dilation: dilation, groups: groups)
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        let bound = 1 / Double(inputChannels / groups * kernelSize).squareRoot()
        return [("weight", uniformTensor([outputChannels, inputChannels / groups, kernelSize], bound: bound, using: &random))]
            + (hasBias ? [("bias", uniformTensor([outputChannels], bound: bound, using: &random))] : [])
    }
}

/// torch.nn.MaxPool2d / AvgPool2d (count_include_pad = True); stride defaults to the kernel size.
public struct Pool2d: Layer {
    public enum Kind: String, Sendable { case max, average }
    public var kind: Kind
    public var geometry: WindowGeometry

    public init(_ kind: Kind, kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kind = kind
        geometry = WindowGeometry(kernel: (kernelSize, kernelSize), stride: (stride ?? kernelSize, stride ?? kernelSize),
                                  padding: (padding, padding))
    }

    public var parameterShapes: [(name: String, shape: [Int])] { [] }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        kind == .max ? input.maxPool2d(geometry) : input.averagePool2d(geometry)
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] { [] }
}

/// torch.nn.Flatten: [N, ...] -> [N, product of the rest].
public struct Flatten: Layer {
    public init() {}
    public var parameterShapes: [(name: String, shape: [Int])] { [] }
    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        input.reshaped([input.shape[0], input.shape.dropFirst().reduce(1, *)])
    }
    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] { [] }
}

/// torch.nn.Dropout: the identity in analysis; in a training step, zeroes each element with probability p (seeded
/// by the pass's context) and scales the rest by 1 / (1 - p).
public struct Dropout: Layer {
    public var probability: Double
    public init(_ probability: Double = 0.5) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        self.probability = probability
    }
    public var parameterShapes: [(name: String, shape: [Int])] { [] }
    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        guard parameters.context.training, probability > 0 else { return input }
        let keep = 1 / (1 - probability)
        let mask = parameters.context.uniforms(input.value.count).map { Scalar($0 < probability ? 0 : keep) }
        return input * Variable(Tensor(shape: input.shape, scalars: mask))
    }
    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] { [] }
}

/// torch.nn.Embedding: weight [count, dimension]; the input holds integer indices (stored as floating point).
public struct Embedding: Layer {
    public var count: Int, dimension: Int
    public init(_ count: Int, _ dimension: Int) {
        self.count = count
        self.dimension = dimension
    }
    public var parameterShapes: [(name: String, shape: [Int])] { [("weight", [count, dimension])] }
    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        parameters("weight").embeddingLookup(input.value.scalars.map { Int($0) }, indexShape: input.shape)
    }
    /// N(0, 1), as PyTorch.
    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        [("weight", Tensor<Double>.gaussian(shape: [count, dimension], using: &random).converted(to: Scalar.self))]
    }
}

/// A residual block: `main(x) + shortcut(x)` (the identity when there is no shortcut layer); children are named
/// "main" and "shortcut".
public struct Residual: Layer {
    public var main: any Layer
    public var shortcut: (any Layer)?

    public init(_ main: any Layer, shortcut: (any Layer)? = nil) {
        self.main = main
        self.shortcut = shortcut
    }

    var children: Sequential { Sequential(named: [("main", main)] + (shortcut.map { [("shortcut", $0)] } ?? [])) }

    public var parameterShapes: [(name: String, shape: [Int])] { children.parameterShapes }
    public var bufferShapes: [(name: String, shape: [Int])] { children.bufferShapes }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        let branch = main(input, parameters.child("main"))
        return branch + (shortcut.map { $0(input, parameters.child("shortcut")) } ?? input)
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        children.initialParameters(using: &random)
    }
    public func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)] { children.initialBuffers() }
}

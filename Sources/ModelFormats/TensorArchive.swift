import Foundation

/// A file (or set of files) of named tensors whose descriptors are known up front and whose data is read only
/// when asked for, one tensor at a time.
public protocol TensorArchive: Sendable {
    /// The file or directory, as the user named it.
    var path: String { get }
    /// The format's name as `curvature info` shows it, e.g. "npz".
    var formatName: String { get }
    /// Every tensor, in the file's order.
    var descriptors: [TensorDescriptor] { get }
    /// How the format lays out convolution kernels, where the format fixes it; nil where only the tensor's origin
    /// could tell (bare NumPy arrays).
    var kernelLayout: KernelLayout? { get }
    /// Reads one tensor's data.
    func tensor(named name: String) throws(FormatError) -> StoredTensor
    /// Reads `range` of one tensor's row-major bytes, without the rest where the format allows.
    func tensorBytes(named name: String, range: Range<Int>) throws(FormatError) -> Data
}

/// The axis order of a convolution kernel.
public enum KernelLayout: String, Sendable, Codable, CaseIterable {
    /// (out, in, k...): PyTorch modules (torch.save, safetensors) and ONNX Conv.
    case channelsFirst = "channels-first"
    /// (k..., in, out): Keras and TensorFlow.
    case channelsLast = "channels-last"
}

extension TensorArchive {
    /// Unknown unless the format says otherwise.
    public var kernelLayout: KernelLayout? { nil }

    /// Reads the whole tensor and slices it; formats with random access override this.
    public func tensorBytes(named name: String, range: Range<Int>) throws(FormatError) -> Data {
        let data = try tensor(named: name).data
        guard range.lowerBound >= 0, range.upperBound <= data.count else {
            throw FormatError(.invalidOffsets, file: path, tensor: name, "byte range \(range) lies outside the tensor's \(data.count) bytes")
        }
        return Data(data[(data.startIndex + range.lowerBound)..<(data.startIndex + range.upperBound)])
    }

    /// Reads every tensor, in the file's order.
    public func allTensors() throws(FormatError) -> [StoredTensor] {
        var result: [StoredTensor] = []
        for descriptor in descriptors { result.append(try tensor(named: descriptor.name)) }
        return result
    }

    /// Throws `missingTensor` naming the file and the tensors it does have.
    func missing(_ name: String) -> FormatError {
        let available = descriptors.prefix(10).map(\.name).joined(separator: ", ")
        return FormatError(.missingTensor, file: path, tensor: name,
                           "no such tensor (the file has \(descriptors.count): \(available)\(descriptors.count > 10 ? ", ..." : ""))")
    }
}

/// Rejects a second tensor of the same name.
func checkUniqueNames(_ descriptors: [TensorDescriptor], file: String) throws(FormatError) {
    var seen = Set<String>()
    for descriptor in descriptors where !seen.insert(descriptor.name).inserted {
        throw FormatError(.duplicateName, file: file, tensor: descriptor.name, "the name appears more than once")
    }
}

/// Tensors held in memory behind the archive interface, so analyses that read files (HTSR) run on weights a
/// program has just computed.
public struct InMemoryArchive: TensorArchive {
    public var path: String
    public var formatName: String { "memory" }
    public var tensors: [StoredTensor]
    public var descriptors: [TensorDescriptor] { tensors.map(\.descriptor) }
    public var kernelLayout: KernelLayout?

    /// - Parameters:
    ///   - path: a label for reports (no file is read or written).
    ///   - tensors: the tensors, in order.
    ///   - kernelLayout: how the tensors' convolution kernels are laid out, when the caller knows.
    public init(path: String, tensors: [StoredTensor], kernelLayout: KernelLayout? = nil) {
        self.path = path
        self.tensors = tensors
        self.kernelLayout = kernelLayout
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let tensor = tensors.first(where: { $0.name == name }) else {
            throw FormatError(.missingTensor, file: path, tensor: name, "no tensor of that name")
        }
        return tensor
    }
}

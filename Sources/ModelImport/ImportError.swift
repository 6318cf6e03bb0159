/// Why an ONNX model cannot be used as a differentiable model.
public struct ImportError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var reason: String
    public var description: String { "\(file): \(reason)" }

    public init(file: String, _ reason: String) {
        self.file = file
        self.reason = reason
    }
}

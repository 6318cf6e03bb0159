import Foundation
import ModelFormats

/// What kind of layer a weight tensor belongs to, from its rank and name.
public enum LayerKind: String, Sendable, Codable {
    /// A 2-D weight: Linear, Gemm, MatMul, Hugging Face's Conv1D.
    case dense
    /// A 2-D weight whose name says embedding.
    case embedding
    /// A 3-D convolution kernel (out, in, k).
    case conv1d
    /// A 4-D convolution kernel (out, in, kh, kw), or Keras's (kh, kw, in, out).
    case conv2d
}

/// One matrix-valued layer (or, without pooling, one kernel position of a conv layer) to analyse.
public struct HTSRLayer: Sendable, Equatable {
    /// WeightWatcher's numbering: position among the candidate tensors, from 1.
    public var layerID: Int
    /// The tensor name without a trailing ".weight".
    public var name: String
    public var tensorName: String
    public var kind: LayerKind
    /// The larger and smaller dimension of each matrix.
    public var n: Int
    public var m: Int
    /// Receptive field: the number of kernel positions (1 for dense layers).
    public var rf: Int
    /// Kernel position (i, j) for unpooled conv layers.
    public var slice: [Int]?
    /// A LoRA adapter's B factor: the layer is the product `B A`, with A the tensor `tensorName`.
    public var loraB: String?

    /// How many eigenvalues the ESD has.
    public var numEvals: Int { slice == nil ? m * rf : m }
}

/// A tensor that is not analysed, and why.
public struct SkippedLayer: Sendable, Codable, Equatable {
    public var layerID: Int
    public var name: String
    public var reason: String
}

/// A user's regular expression that does not compile.
public struct HTSROptionError: Error, CustomStringConvertible, Equatable {
    public var option: String
    public var reason: String
    public var description: String { "\(option): \(reason)" }
}

enum LayerDiscovery {
    /// The layers of a weight file, found from tensor names and shapes as WeightWatcher does for state dicts:
    /// the candidates are the tensors named "*.weight" (all tensors if none is), or for an ONNX model the weight
    /// operands of its Conv/Gemm/MatMul nodes (`weightNames`), numbered from 1 in file order;
    /// 2-D floating-point tensors are dense (embedding when the name says so), 3-D conv1d, 4-D conv2d; the rest,
    /// and layers outside the size filters or the name patterns, are skipped with a reason.
    static func layers(
        of descriptors: [TensorDescriptor], weightNames: Set<String>? = nil, options: HTSROptions
    ) throws(HTSROptionError) -> (layers: [HTSRLayer], skipped: [SkippedLayer]) {
        let include = try compile(options.layers, option: "--layers")
        let exclude = try compile(options.exclude, option: "--exclude")
        let hasWeights = descriptors.contains { $0.name.hasSuffix(".weight") }
        let candidates = if let weightNames {
            descriptors.filter { weightNames.contains($0.name) }
        } else {
            hasWeights ? descriptors.filter { $0.name.hasSuffix(".weight") } : descriptors
        }
        var layers: [HTSRLayer] = []
        var skipped: [SkippedLayer] = []
        if weightNames == nil, let adapter = loraLayers(descriptors, include: include, exclude: exclude, options: options) { return adapter }
        for (index, descriptor) in candidates.enumerated() {
            let id = index + 1
            let name = descriptor.name.hasSuffix(".weight") ? String(descriptor.name.dropLast(7)) : descriptor.name
            func skip(_ reason: String) { skipped.append(SkippedLayer(layerID: id, name: name, reason: reason)) }
            if let include, !matches(include, name) { skip("does not match --layers"); continue }
            if let exclude, matches(exclude, name) { skip("matches --exclude"); continue }
            guard descriptor.dtype.isFloatingPoint else { skip("\(descriptor.dtype) tensor, not weights"); continue }
            let shape = descriptor.shape
            let kind: LayerKind
            var n: Int, m: Int, rf: Int
            switch shape.count {
            case 2:
                kind = name.lowercased().contains("embed") ? .embedding : .dense
                (n, m, rf) = (max(shape[0], shape[1]), min(shape[0], shape[1]), 1)
            case 3:
                kind = .conv1d
                (n, m, rf) = (max(shape[0], shape[1]), min(shape[0], shape[1]), shape[2])
            case 4:
                kind = .conv2d
                let (a, b, c, d) = (shape[0], shape[1], shape[2], shape[3])
                // PyTorch/ONNX put the kernel positions last, Keras first; the larger pair is the channels.
                (n, m, rf) = a + b >= c + d ? (max(a, b), min(a, b), c * d) : (max(c, d), min(c, d), a * b)
            default:
                skip("\(shape.count)-D tensor (norm scale, bias or buffer)")
                continue
            }
            guard m > 0 else { skip("empty tensor"); continue }
            let slices: [[Int]?] = options.pool || kind == .dense || kind == .embedding
                ? [nil] : kernelPositions(shape: shape, kind: kind)
            let evals = options.pool || slices == [nil] ? m * rf : m
            if evals < options.minEvals { skip("\(evals) eigenvalues, fewer than --min-evals \(options.minEvals)"); continue }
            if options.maxEvals > 0, evals > options.maxEvals {
                skip("\(evals) eigenvalues, more than --max-evals \(options.maxEvals)")
                continue
            }
            if n > options.maxN { skip("N = \(n), more than --max-n \(options.maxN)"); continue }
            for slice in slices {
                layers.append(HTSRLayer(layerID: id, name: name, tensorName: descriptor.name, kind: kind,
                                        n: n, m: m, rf: rf, slice: slice))
            }
        }
        return (layers, skipped)
    }

    /// A LoRA adapter (PEFT's adapter_model.safetensors): every `X.lora_A.weight` [r, in] with its
    /// `X.lora_B.weight` [out, r] is one dense layer X, the product `B A` [out, in] (without PEFT's alpha / r scale,
    /// which moves every eigenvalue alike and leaves alpha unchanged). Nil when the file has no such pair.
    private static func loraLayers(
        _ descriptors: [TensorDescriptor], include: NSRegularExpression?, exclude: NSRegularExpression?, options: HTSROptions
    ) -> (layers: [HTSRLayer], skipped: [SkippedLayer])? {
        let byName = Dictionary(descriptors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let pairs = descriptors.filter { $0.name.hasSuffix(".lora_A.weight") }.compactMap { a -> (TensorDescriptor, TensorDescriptor)? in
            guard let b = byName[String(a.name.dropLast(14)) + ".lora_B.weight"] else { return nil }
            return (a, b)
        }
        guard !pairs.isEmpty else { return nil }
        var layers: [HTSRLayer] = [], skipped: [SkippedLayer] = []
        for (index, (a, b)) in pairs.enumerated() {
            let id = index + 1, name = String(a.name.dropLast(14))
            func skip(_ reason: String) { skipped.append(SkippedLayer(layerID: id, name: name, reason: reason)) }
            if let include, !matches(include, name) { skip("does not match --layers"); continue }
            if let exclude, matches(exclude, name) { skip("matches --exclude"); continue }
            guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[1], a.dtype.isFloatingPoint, b.dtype.isFloatingPoint else {
                skip("LoRA factors \(b.shape) x \(a.shape) do not multiply")
                continue
            }
            let (n, m) = (max(b.shape[0], a.shape[1]), min(b.shape[0], a.shape[1]))
            if m < options.minEvals { skip("\(m) eigenvalues, fewer than --min-evals \(options.minEvals)"); continue }
            if options.maxEvals > 0, m > options.maxEvals { skip("\(m) eigenvalues, more than --max-evals \(options.maxEvals)"); continue }
            if n > options.maxN { skip("N = \(n), more than --max-n \(options.maxN)"); continue }
            layers.append(HTSRLayer(layerID: id, name: name, tensorName: a.name, kind: .dense, n: n, m: m, rf: 1, slice: nil, loraB: b.name))
        }
        return (layers, skipped)
    }

    private static func kernelPositions(shape: [Int], kind: LayerKind) -> [[Int]?] {
        if kind == .conv1d { return (0..<shape[2]).map { [$0] } }
        let channelsFirst = shape[0] + shape[1] >= shape[2] + shape[3]
        let (rows, columns) = channelsFirst ? (shape[2], shape[3]) : (shape[0], shape[1])
        return (0..<rows).flatMap { i in (0..<columns).map { j in [i, j] } }
    }

    private static func compile(_ pattern: String?, option: String) throws(HTSROptionError) -> NSRegularExpression? {
        guard let pattern else { return nil }
        do {
            return try NSRegularExpression(pattern: pattern)
        } catch {
            throw HTSROptionError(option: option, reason: "'\(pattern)' is not a valid regular expression")
        }
    }

    private static func matches(_ expression: NSRegularExpression, _ name: String) -> Bool {
        expression.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }
}

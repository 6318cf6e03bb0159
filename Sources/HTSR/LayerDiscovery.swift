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
    /// A conv kernel's axis order and what decided it; nil for dense layers.
    public var layout: KernelLayout?
    public var layoutSource: LayoutSource?

    /// How many eigenvalues the ESD has.
    public var numEvals: Int { slice == nil ? m * rf : m }
}

/// What decided a conv kernel's axis order.
public enum LayoutSource: String, Sendable, Codable {
    /// The file format fixes it (PyTorch and ONNX files: out, in, k...).
    case format
    /// `--conv-layout` said so.
    case option
    /// Guessed from the extents, for arrays of unknown origin: the larger pair of axes holds the channels.
    case shape
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
    ///
    /// A conv kernel's axis order comes from `options.convLayout`, else from `formatLayout` (the file format's),
    /// else from its extents.
    static func layers(
        of descriptors: [TensorDescriptor], weightNames: Set<String>? = nil, formatLayout: KernelLayout? = nil,
        options: HTSROptions
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
            var layout: (order: KernelLayout, source: LayoutSource)?
            switch shape.count {
            case 2: kind = name.lowercased().contains("embed") ? .embedding : .dense
            case 3, 4:
                kind = shape.count == 3 ? .conv1d : .conv2d
                layout = options.convLayout.map { ($0, .option) } ?? formatLayout.map { ($0, .format) }
                    ?? (guessedLayout(shape), .shape)
            default:
                skip("\(shape.count)-D tensor (norm scale, bias or buffer)")
                continue
            }
            let (channels, kernel) = split(shape, layout?.order)
            let (n, m, rf) = (max(channels.0, channels.1), min(channels.0, channels.1), kernel.reduce(1, *))
            guard m > 0, rf > 0 else { skip("empty tensor"); continue }
            let slices: [[Int]?] = options.pool || layout == nil ? [nil] : kernelPositions(kernel)
            let evals = options.pool || slices == [nil] ? m * rf : m
            if evals < options.minEvals { skip("\(evals) eigenvalues, fewer than --min-evals \(options.minEvals)"); continue }
            if options.maxEvals > 0, evals > options.maxEvals {
                skip("\(evals) eigenvalues, more than --max-evals \(options.maxEvals)")
                continue
            }
            if n > options.maxN { skip("N = \(n), more than --max-n \(options.maxN)"); continue }
            for slice in slices {
                layers.append(HTSRLayer(layerID: id, name: name, tensorName: descriptor.name, kind: kind,
                                        n: n, m: m, rf: rf, slice: slice, layout: layout?.order, layoutSource: layout?.source))
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

    /// The two channel extents and the kernel extents of a weight: a matrix's are its own, a conv kernel's
    /// (out, in) and the trailing axes when channels come first, (in, out) and the leading axes otherwise.
    static func split(_ shape: [Int], _ layout: KernelLayout?) -> (channels: (Int, Int), kernel: [Int]) {
        switch layout {
        case nil: ((shape[0], shape[1]), [])
        case .channelsFirst: ((shape[0], shape[1]), Array(shape.dropFirst(2)))
        case .channelsLast: ((shape[shape.count - 2], shape[shape.count - 1]), Array(shape.dropLast(2)))
        }
    }

    /// For arrays of unknown origin: the pair of axes with the larger extents holds the channels (a kernel is
    /// usually smaller than its channel counts).
    static func guessedLayout(_ shape: [Int]) -> KernelLayout {
        shape[0] + shape[1] >= shape[shape.count - 2] + shape[shape.count - 1] ? .channelsFirst : .channelsLast
    }

    /// Every kernel position: [i] for a 1-D kernel, [i, j] for a 2-D one.
    private static func kernelPositions(_ kernel: [Int]) -> [[Int]?] {
        kernel.count == 1 ? (0..<kernel[0]).map { [$0] }
            : (0..<kernel[0]).flatMap { i in (0..<kernel[1]).map { j in [i, j] } }
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

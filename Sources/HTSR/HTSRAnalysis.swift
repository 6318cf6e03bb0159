import Foundation
import LinearAlgebra
import ModelFormats
import Reporting

/// The result of `curvature htsr`: one row per analysed layer, the skipped tensors, and the summary.
public struct HTSRReport: Sendable, Encodable {
    /// The report's layout version; it changes when a key changes meaning or is renamed.
    public static let formatVersion = 2
    public var version = formatVersion
    public var file: String
    public var format: String
    /// The base model whose weights were subtracted (a delta analysis), if any.
    public var baseModel: String?
    public var options: HTSROptions
    public var layers: [LayerReport]
    public var skipped: [SkippedLayer]
    public var summary: HTSRSummary
}

/// Progress of a running analysis, for a caller that shows it.
public struct HTSRProgress: Sendable {
    public var completed: Int
    public var total: Int
    /// The layer just finished.
    public var layer: String
}

extension HTSRProgress: ProgressEvent {
    public var count: ProgressCount? { ProgressCount(stage: "htsr", done: completed, total: total, unit: "layers") }
    public var description: String { "htsr: \(completed)/\(total) layers, \(layer) done" }
}

/// Why an HTSR analysis stopped.
public enum HTSRError: Error, CustomStringConvertible {
    case format(FormatError)
    case option(HTSROptionError)
    case lapack(layer: String, LAPACKError)
    /// The base model of a delta analysis lacks a layer's tensor or has it in another shape.
    case baseMismatch(file: String, String)

    public var description: String {
        switch self {
        case .format(let error): error.description
        case .option(let error): error.description
        case .lapack(let layer, let error): "layer \(layer): \(error)"
        case .baseMismatch(let file, let problems): "\(file): the base model does not match: \(problems)"
        }
    }
}

/// Heavy-tailed self-regularisation analysis of the weight matrices in a file (Martin and Mahoney; WeightWatcher).
///
/// Layers run in parallel, `options.workers` at a time (one per core by default) with BLAS single-threaded so they
/// do not oversubscribe; each worker holds one layer's tensor at a time. Largest layers start first.
///
/// With `base`, every layer is the difference `W - W_base` with the same-named tensor of `base` (a fine-tuning
/// delta); the base must hold every analysed tensor in the same shape.
///
/// With `share`, several processes divide the layers: this one computes the spectra of every `share.count`-th layer
/// in order of size (largest first, from its `share.index`), `share.exchange` hands every process all of them, and
/// every process returns the same report, rows in file order.
public func analyzeHTSR(
    _ archive: any TensorArchive, options: HTSROptions = HTSROptions(), base: (any TensorArchive)? = nil,
    share: HTSRWorkShare? = nil, progress: (@Sendable (HTSRProgress) -> Void)? = nil
) async throws(HTSRError) -> HTSRReport {
    let discovered: (layers: [HTSRLayer], skipped: [SkippedLayer])
    do {
        try options.validated()
        discovered = try LayerDiscovery.layers(of: archive.descriptors, weightNames: (archive as? ONNXModel)?.weightInitializerNames,
                                               formatLayout: archive.kernelLayout, options: options)
    } catch {
        throw .option(error)
    }
    let layers = discovered.layers
    if let base {
        // Every problem at once, in layer order, before any work starts.
        let available = Dictionary(base.descriptors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        let shapes = Dictionary(archive.descriptors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        let problems = Array(Set(layers.map(\.tensorName))).sorted().compactMap { name -> String? in
            guard let shape = available[name] else { return "'\(name)' is not in the base model" }
            return shape == shapes[name] ? nil : "'\(name)' has shape \(shape) in the base model, \(shapes[name] ?? []) in the model"
        }
        if !problems.isEmpty { throw .baseMismatch(file: base.path, problems.joined(separator: "; ")) }
    }
    let bySize = layers.indices.sorted { layers[$0].n * layers[$0].m * layers[$0].rf > layers[$1].n * layers[$1].m * layers[$1].rf }
    let order = share.map { share in bySize.enumerated().filter { $0.offset % share.count == share.index }.map(\.element) } ?? bySize
    let workers = options.workers > 0 ? options.workers : ProcessInfo.processInfo.activeProcessorCount
    let singleThreaded = BLASThreads.begin(1)
    defer { singleThreaded.end() }

    var spectra: [Int: LayerSpectrum] = [:]
    let result: Result<Void, HTSRError> = await withTaskGroup(of: (Int, Result<LayerSpectrum, HTSRError>).self) { group in
        var next = 0
        func startNext() {
            guard next < order.count else { return }
            let index = order[next]
            next += 1
            group.addTask { (index, layerSpectrum(layers[index], in: archive, base: base, options: options)) }
        }
        for _ in 0..<min(workers, order.count) { startNext() }
        var completed = 0
        for await (index, outcome) in group {
            switch outcome {
            case .success(let spectrum): spectra[index] = spectrum
            case .failure(let error):
                group.cancelAll()
                return .failure(error)
            }
            completed += 1
            progress?(HTSRProgress(completed: completed, total: order.count, layer: layers[index].name))
            startNext()
        }
        return .success(())
    }
    if case .failure(let error) = result { throw error }
    if let share { spectra = share.exchange(spectra) }
    var rows: [LayerReport] = []
    var unusable: [SkippedLayer] = []
    for (index, layer) in layers.enumerated() {
        switch spectra[index] {
        case .computed(let esd, let randomization)?: rows.append(layerReport(layer, esd: esd, randomization: randomization, options: options))
        case .unusable(let reason)?: unusable.append(SkippedLayer(layerID: layer.layerID, name: layer.name, reason: reason))
        case nil: unusable.append(SkippedLayer(layerID: layer.layerID, name: layer.name, reason: "no process computed its spectrum"))
        }
    }
    let reports = rows
    let skipped = (discovered.skipped + unusable).sorted { $0.layerID < $1.layerID }
    return HTSRReport(file: archive.path, format: archive.formatName, baseModel: base?.path, options: options, layers: reports,
                      skipped: skipped, summary: HTSRSummary(layers: reports, skipped: skipped.count))
}

/// How several processes divide an HTSR analysis's layers (``analyzeHTSR(_:options:base:share:progress:)``).
public struct HTSRWorkShare: Sendable {
    /// This process's index, from 0, and the number of processes.
    public var index: Int
    public var count: Int
    /// Given this process's spectra (by layer position), every process's; every process calls it once.
    public var exchange: @Sendable ([Int: LayerSpectrum]) -> [Int: LayerSpectrum]

    public init(index: Int, count: Int, exchange: @escaping @Sendable ([Int: LayerSpectrum]) -> [Int: LayerSpectrum]) {
        self.index = index
        self.count = count
        self.exchange = exchange
    }
}

/// A layer's spectrum (and its randomised twin's), the costly part of its analysis; or why it has none (weights that
/// are not finite).
public enum LayerSpectrum: Sendable, Codable, Equatable {
    case computed(EmpiricalSpectralDensity, Randomization?)
    case unusable(String)
}

/// Reads one layer's tensor and computes its ESD (and the randomisation test's).
func layerSpectrum(_ layer: HTSRLayer, in archive: any TensorArchive, base: (any TensorArchive)? = nil,
                   options: HTSROptions) -> Result<LayerSpectrum, HTSRError> {
    Result { () throws(HTSRError) -> LayerSpectrum in
        var randomization: Randomization?
        if !options.randomize, base == nil, layer.loraB == nil, let streamed = try streamedGramESD(layer, in: archive) {
            guard let value = streamed else { return .unusable(nonFiniteReason) }
            return .computed(value, nil)
        }
        var tensor: StoredTensor
        do throws(FormatError) {
            tensor = try archive.tensor(named: layer.tensorName)
            if let loraB = layer.loraB {
                // The adapter's update B A, the matrix a merged model adds to the base weight.
                let product = matmul(try archive.tensor(named: loraB).tensor(Double.self), tensor.tensor(Double.self))
                tensor = StoredTensor(name: tensor.name, tensor: product)
            }
        } catch { throw .format(error) }
        if let base { tensor = try delta(tensor, base: base) }
        let matrices = LayerMatrices(layer: layer, tensor: tensor)
        // LAPACK's behaviour on NaN is undefined; such a layer has no spectrum to report.
        guard matrices.matrices.allSatisfy(\.isFinite) else { return .unusable(nonFiniteReason) }
        do throws(LAPACKError) {
            let esd = try EmpiricalSpectralDensity(matrices: matrices.matrices, scale: matrices.eigenvalueScale)
            if options.randomize {
                var random = SeededRandom(seed: options.seed ^ (UInt64(layer.layerID) &* 0x9E37_79B9_7F4A_7C15))
                let shuffled = Randomization.shuffled(matrices.matrices, using: &random)
                let randomized = try EmpiricalSpectralDensity(matrices: shuffled, scale: matrices.eigenvalueScale)
                randomization = Randomization(eigenvalues: esd.eigenvalues, randomized: randomized.eigenvalues)
            }
            return .computed(esd, randomization)
        } catch {
            throw .lapack(layer: layer.name, error)
        }
    }
}

/// A layer's row from its spectrum: the power-law fit and the norm metrics.
func layerReport(_ layer: HTSRLayer, esd: EmpiricalSpectralDensity, randomization: Randomization?, options: HTSROptions) -> LayerReport {
    let fit = PowerLawFit.fit(eigenvalues: esd.eigenvalues, threshold: options.fitThreshold, upperLimit: options.upperLimit,
                              distribution: options.fit, fixFingers: options.fixFingers,
                              smallSampleRule: options.smallSampleXmin)
    var row = LayerReport(layer: layer, esd: esd, fit: fit, options: options)
    if options.keepEigenvalues { row.eigenvalues = esd.eigenvalues }
    row.randomization = randomization
    return row
}

private let nonFiniteReason = "weights contain NaN or infinite values"

/// `W - W_base` for the same-named tensor of `base`, in float64.
private func delta(_ tensor: StoredTensor, base: any TensorArchive) throws(HTSRError) -> StoredTensor {
    guard let descriptor = base.descriptors.first(where: { $0.name == tensor.name }) else {
        throw .baseMismatch(file: base.path, "'\(tensor.name)' is not in the base model")
    }
    guard descriptor.shape == tensor.shape else {
        throw .baseMismatch(file: base.path, "'\(tensor.name)' has shape \(descriptor.shape) in the base model, \(tensor.shape) in the model")
    }
    let original: Tensor<Double>
    do throws(FormatError) { original = try base.tensor(named: tensor.name).tensor(Double.self) } catch { throw .format(error) }
    return StoredTensor(name: tensor.name, tensor: tensor.tensor(Double.self) - original)
}

/// Rows per block when a tall matrix's Gram matrix is accumulated from the file: about 1 M elements (8 MB).
private let streamBlockElements = 1 << 20

/// For a tall dense matrix (rows >= columns, at least two blocks), `W^T W` accumulated block by block from the file,
/// so the matrix is never whole in memory and no large buffer is faulted in. Returns nil when the layer is not
/// streamed (or the Gram route cannot be trusted and the full SVD is needed); `.some(nil)` for non-finite weights.
private func streamedGramESD(_ layer: HTSRLayer, in archive: any TensorArchive) throws(HTSRError) -> EmpiricalSpectralDensity?? {
    guard layer.kind == .dense || layer.kind == .embedding,
          let descriptor = archive.descriptors.first(where: { $0.name == layer.tensorName }) else { return nil }
    let (rows, columns) = (descriptor.shape[0], descriptor.shape[1])
    guard rows >= columns, rows * columns >= 2 * streamBlockElements else { return nil }
    let blockRows = max(1, streamBlockElements / columns)
    let rowBytes = columns * descriptor.dtype.byteSize
    var gram = Tensor<Double>(zeros: [columns, columns])
    for start in stride(from: 0, to: rows, by: blockRows) {
        let count = min(blockRows, rows - start)
        let bytes: Data
        do throws(FormatError) {
            bytes = try archive.tensorBytes(named: layer.tensorName, range: (start * rowBytes)..<((start + count) * rowBytes))
        } catch {
            throw .format(error)
        }
        let block = StoredTensor(descriptor: TensorDescriptor(name: layer.tensorName, dtype: descriptor.dtype, shape: [count, columns]),
                                 data: bytes).tensor(Double.self)
        guard block.isFinite else { return .some(nil) }
        accumulateGram(rows: block, into: &gram)
    }
    let eigenvalues: [Double]
    do throws(LAPACKError) { eigenvalues = try symmetricEigen(gram, computeVectors: false).values } catch { throw .lapack(layer: layer.name, error) }
    guard let singular = EmpiricalSpectralDensity.singularValues(gramEigenvalues: eigenvalues) else { return nil }
    return EmpiricalSpectralDensity(singularValueSets: [(singular, rows)], scale: 1, method: .gram)
}

extension Tensor where Scalar == Double {
    /// Whether every element is finite: x * 0 is 0 for finite x and NaN otherwise, so one vectorised sum decides.
    var isFinite: Bool {
        withUnsafeBufferPointer { values in
            var probe = 0.0
            for value in values { probe += value * 0 }
            return probe == 0
        }
    }
}

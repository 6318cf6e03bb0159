import Foundation
import LinearAlgebra
import ModelFormats

/// The result of `curvature htsr`: one row per analysed layer, the skipped tensors, and the summary.
public struct HTSRReport: Sendable, Encodable {
    public var file: String
    public var format: String
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

/// Why an HTSR analysis stopped.
public enum HTSRError: Error, CustomStringConvertible {
    case format(FormatError)
    case option(HTSROptionError)
    case lapack(layer: String, LAPACKError)

    public var description: String {
        switch self {
        case .format(let error): error.description
        case .option(let error): error.description
        case .lapack(let layer, let error): "layer \(layer): \(error)"
        }
    }
}

/// Heavy-tailed self-regularisation analysis of the weight matrices in a file (Martin and Mahoney; WeightWatcher).
///
/// Layers run in parallel, `options.workers` at a time (one per core by default) with BLAS single-threaded so they
/// do not oversubscribe; each worker holds one layer's tensor at a time. Largest layers start first.
public func analyzeHTSR(
    _ archive: any TensorArchive, options: HTSROptions = HTSROptions(),
    progress: (@Sendable (HTSRProgress) -> Void)? = nil
) async throws(HTSRError) -> HTSRReport {
    let discovered: (layers: [HTSRLayer], skipped: [SkippedLayer])
    do {
        discovered = try LayerDiscovery.layers(of: archive.descriptors,
                                               weightNames: (archive as? ONNXModel)?.weightInitializerNames, options: options)
    } catch {
        throw .option(error)
    }
    let layers = discovered.layers
    let order = layers.indices.sorted { layers[$0].n * layers[$0].m * layers[$0].rf > layers[$1].n * layers[$1].m * layers[$1].rf }
    let workers = options.workers > 0 ? options.workers : ProcessInfo.processInfo.activeProcessorCount
    let previousThreads = BLASThreads.count
    BLASThreads.set(1)
    defer { BLASThreads.set(previousThreads) }

    var rows = [LayerReport?](repeating: nil, count: layers.count)
    var unusable: [SkippedLayer] = []
    let result: Result<Void, HTSRError> = await withTaskGroup(of: (Int, Result<LayerOutcome, HTSRError>).self) { group in
        var next = 0
        func startNext() {
            guard next < order.count else { return }
            let index = order[next]
            next += 1
            group.addTask { (index, analyzeLayer(layers[index], in: archive, options: options)) }
        }
        for _ in 0..<min(workers, order.count) { startNext() }
        var completed = 0
        for await (index, outcome) in group {
            switch outcome {
            case .success(.analysed(let row)): rows[index] = row
            case .success(.unusable(let reason)):
                unusable.append(SkippedLayer(layerID: layers[index].layerID, name: layers[index].name, reason: reason))
            case .failure(let error):
                group.cancelAll()
                return .failure(error)
            }
            completed += 1
            progress?(HTSRProgress(completed: completed, total: layers.count, layer: layers[index].name))
            startNext()
        }
        return .success(())
    }
    if case .failure(let error) = result { throw error }
    let reports = rows.compactMap { $0 }
    let skipped = (discovered.skipped + unusable).sorted { $0.layerID < $1.layerID }
    return HTSRReport(file: archive.path, format: archive.formatName, options: options, layers: reports,
                      skipped: skipped, summary: HTSRSummary(layers: reports, skipped: skipped.count))
}

/// A layer's result: a row, or a reason it has none (weights that are not finite).
enum LayerOutcome {
    case analysed(LayerReport)
    case unusable(String)
}

/// Reads one layer's tensor, computes its ESD, fits the power law and the norm metrics.
func analyzeLayer(_ layer: HTSRLayer, in archive: any TensorArchive, options: HTSROptions) -> Result<LayerOutcome, HTSRError> {
    let tensor: StoredTensor
    do {
        tensor = try archive.tensor(named: layer.tensorName)
    } catch {
        return .failure(.format(error))
    }
    let matrices = LayerMatrices(layer: layer, tensor: tensor)
    // LAPACK's behaviour on NaN is undefined; such a layer has no spectrum to report.
    guard matrices.matrices.allSatisfy(\.isFinite) else {
        return .success(.unusable("weights contain NaN or infinite values"))
    }
    do {
        let esd = try EmpiricalSpectralDensity(matrices: matrices.matrices, scale: matrices.eigenvalueScale)
        let fit = PowerLawFit.fit(eigenvalues: esd.eigenvalues, threshold: options.fitThreshold)
        return .success(.analysed(LayerReport(layer: layer, esd: esd, fit: fit, options: options)))
    } catch {
        return .failure(.lapack(layer: layer.name, error))
    }
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

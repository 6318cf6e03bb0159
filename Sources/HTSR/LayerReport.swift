import Foundation
import ModelFormats

/// One row of the HTSR table, with WeightWatcher's column names (`layer_id`, `alpha_weighted`, `D`, ...).
///
/// Norm metrics use all eigenvalues of the layer (lambda = sigma^2):
/// `norm = sum lambda`, `log_norm = log10 norm`, `spectral_norm = lambda_max = max lambda`,
/// `log_spectral_norm = log10 lambda_max`, `alpha_weighted = alpha log10 lambda_max`,
/// `log_alpha_norm = log10 sum lambda^alpha`, `stable_rank = norm / lambda_max`,
/// `matrix_rank = count(sigma > sigma_max N eps)`, `entropy = -sum p ln p / ln(rank)` with
/// `p = lambda / norm + 1e-10`, `rank_loss` (per matrix, summed), `weak_rank_loss = count(lambda < 1e-6)`.
/// Fit columns are null when the fit failed; `status` is then "failed" and so is `warning`.
public struct LayerReport: Sendable, Equatable, Encodable {
    public var layerID: Int
    public var name: String
    public var kind: LayerKind
    /// Kernel position (i, j) of an unpooled conv layer.
    public var slice: [Int]?
    /// A conv kernel's axis order, and what decided it (the file format, `--conv-layout`, or its extents).
    public var convLayout: KernelLayout?
    public var convLayoutSource: LayoutSource?
    public var n: Int
    public var m: Int
    public var q: Double
    public var rf: Int
    public var numEvals: Int
    public var alpha: Double?
    public var alphaWeighted: Double?
    public var xmin: Double?
    public var xmax: Double?
    public var d: Double?
    public var sigma: Double?
    public var numPLSpikes: Int?
    /// The truncated power law's cut-off rate, when ``HTSROptions/fit`` is TPL or E_TPL.
    public var truncationLambda: Double?
    /// clip-xmax's finger count and the alpha before clipping, when ``HTSROptions/fixFingers`` asked for it.
    public var numFingers: Int?
    public var rawAlpha: Double?
    public var lambdaMax: Double
    public var spectralNorm: Double
    public var logSpectralNorm: Double
    public var norm: Double
    public var logNorm: Double
    public var logAlphaNorm: Double?
    public var stableRank: Double
    public var matrixRank: Int
    public var entropy: Double
    public var rankLoss: Int
    public var weakRankLoss: Int
    public var svMax: Double
    public var svMin: Double
    /// "over-trained" (alpha < 2), "under-trained" (alpha > 6), "failed", or "".
    public var warning: String
    /// "success" or "failed".
    public var status: String
    /// Why the fit failed, when it did.
    public var failure: String?
    public var esdMethod: ESDMethod
    /// The randomisation test when ``HTSROptions/randomize`` asked for it.
    public var randomization: Randomization?
    /// The Marchenko-Pastur bulk when ``HTSROptions/mpFit`` asked for it: `.some(nil)` with too few eigenvalues.
    public var marchenkoPastur: MarchenkoPasturFit??
    /// SETOL's ERG condition when ``HTSROptions/detX`` asked for it: `.some(nil)` where it has no solution.
    public var detX: DetX??
    /// The fit's settings, which decide the optional columns.
    public var distribution: PowerLawFit.Distribution
    public var fingerFix: PowerLawFit.FingerFix?
    /// The ESD, ascending, when ``HTSROptions/keepEigenvalues`` asked for it; never encoded as a column.
    public var eigenvalues: [Double]?

    /// WeightWatcher's column names, in its order; JSON and CSV keys.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case layerID = "layer_id", name, kind, slice, convLayout = "conv_layout", convLayoutSource = "conv_layout_from", n = "N", m = "M", q = "Q", rf, numEvals = "num_evals", alpha
        case alphaWeighted = "alpha_weighted", xmin, xmax, d = "D", sigma, numPLSpikes = "num_pl_spikes"
        case lambdaMax = "lambda_max", spectralNorm = "spectral_norm", logSpectralNorm = "log_spectral_norm", norm
        case logNorm = "log_norm", logAlphaNorm = "log_alpha_norm", stableRank = "stable_rank"
        case matrixRank = "matrix_rank", entropy, rankLoss = "rank_loss", weakRankLoss = "weak_rank_loss"
        case svMax = "sv_max", svMin = "sv_min", warning, status, failure, esdMethod = "esd_method"
        case truncationLambda = "Lambda", numFingers = "num_fingers", rawAlpha = "raw_alpha"
        case numSpikes = "num_spikes", sigmaMP = "sigma_mp", mpQ = "mp_q", wScale = "W_scale", bulkMin = "bulk_min"
        case bulkMax = "bulk_max", mpSoftrank = "mp_softrank"
        case detXNum = "detX_num", detXVal = "detX_val", detXDelta = "detX_delta"
        case randDistance = "rand_distance", maxRandEval = "max_rand_eval", wwSoftrank = "ww_softrank", wwMaxdist = "ww_maxdist"
    }

    /// The columns a report with these options has, in order (the CSV header even when no layer was analysed).
    public static func columns(for options: HTSROptions) -> [CodingKeys] {
        CodingKeys.allCases.filter { key in
            switch key {
            case .truncationLambda: options.fit != .powerLaw
            case .numFingers, .rawAlpha: options.fixFingers == .clipXmax
            case .numSpikes, .sigmaMP, .mpQ, .wScale, .bulkMin, .bulkMax, .mpSoftrank: options.mpFit
            case .detXNum, .detXVal, .detXDelta: options.detX
            case .randDistance, .maxRandEval, .wwSoftrank, .wwMaxdist: options.randomize
            default: true
            }
        }
    }

    /// One column's value, typed for JSON; nil is a null (a failed fit's columns, a pooled layer's slice).
    public enum Cell: Sendable, Equatable {
        case integer(Int?)
        case number(Double?)
        case text(String?)
        case integers([Int]?)
    }

    /// Every column in WeightWatcher's order: the one list both the JSON encoding and the CSV rendering use.
    public var cells: [(key: CodingKeys, value: Cell)] {
        [(.layerID, .integer(layerID)), (.name, .text(name)), (.kind, .text(kind.rawValue)), (.slice, .integers(slice)),
         (.convLayout, .text(convLayout?.rawValue)), (.convLayoutSource, .text(convLayoutSource?.rawValue)),
         (.n, .integer(n)), (.m, .integer(m)), (.q, .number(q)), (.rf, .integer(rf)), (.numEvals, .integer(numEvals)),
         (.alpha, .number(alpha)), (.alphaWeighted, .number(alphaWeighted)), (.xmin, .number(xmin)), (.xmax, .number(xmax)),
         (.d, .number(d)), (.sigma, .number(sigma)), (.numPLSpikes, .integer(numPLSpikes)), (.lambdaMax, .number(lambdaMax)),
         (.spectralNorm, .number(spectralNorm)), (.logSpectralNorm, .number(logSpectralNorm)), (.norm, .number(norm)),
         (.logNorm, .number(logNorm)), (.logAlphaNorm, .number(logAlphaNorm)), (.stableRank, .number(stableRank)),
         (.matrixRank, .integer(matrixRank)), (.entropy, .number(entropy)), (.rankLoss, .integer(rankLoss)),
         (.weakRankLoss, .integer(weakRankLoss)), (.svMax, .number(svMax)), (.svMin, .number(svMin)),
         (.warning, .text(warning)), (.status, .text(status)), (.failure, .text(failure)), (.esdMethod, .text(esdMethod.rawValue))]
            + (distribution == .powerLaw ? [] : [(.truncationLambda, .number(truncationLambda))])
            + (fingerFix == .clipXmax ? [(.numFingers, .integer(numFingers)), (.rawAlpha, .number(rawAlpha))] : [])
            + (marchenkoPastur.map { mp in
                [(.numSpikes, .integer(mp?.numSpikes)), (.sigmaMP, .number(mp?.sigma)), (.mpQ, .number(mp?.q)),
                 (.wScale, .number(mp?.scale)), (.bulkMin, .number(mp?.bulkMin)), (.bulkMax, .number(mp?.bulkMax)),
                 (.mpSoftrank, .number(mp?.softRank))]
            } ?? [])
            + (detX.map { value in [(.detXNum, .integer(value?.num)), (.detXVal, .number(value?.value)), (.detXDelta, .number(value?.delta))] } ?? [])
            + (randomization.map { r in
                [(.randDistance, .number(r.distance)), (.maxRandEval, .number(r.maxRandomEigenvalue)), (.wwSoftrank, .number(r.softRank)),
                 (.wwMaxdist, .number(r.maxDistance))]
            } ?? [])
    }

    /// Every column, nulls included, so each JSON row has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        for (key, cell) in cells {
            switch cell {
            case .integer(let value): try container.encode(value, forKey: key)
            case .number(let value): try container.encode(value, forKey: key)
            case .text(let value): try container.encode(value, forKey: key)
            case .integers(let value): try container.encode(value, forKey: key)
            }
        }
    }

    init(layer: HTSRLayer, esd: EmpiricalSpectralDensity, fit: Result<PowerLawFit, PowerLawFit.Failure>, options: HTSROptions) {
        let evals = esd.eigenvalues
        layerID = layer.layerID
        name = layer.name
        kind = layer.kind
        slice = layer.slice
        convLayout = layer.layout
        convLayoutSource = layer.layoutSource
        n = layer.n
        m = layer.m
        q = Double(layer.n) / Double(layer.m)
        rf = layer.slice == nil ? layer.rf : 1
        numEvals = evals.count
        let largest = evals.last ?? 0
        let total = evals.reduce(0, +)
        lambdaMax = largest
        spectralNorm = largest
        logSpectralNorm = log10(largest)
        norm = total
        logNorm = log10(total)
        stableRank = total / largest
        // Over the pooled singular values, as WeightWatcher's apply_norm_metrics does.
        let tolerance = largest.squareRoot() * Double(layer.n) * Double.ulpOfOne
        let rank = evals.filter { $0.squareRoot() > tolerance }.count
        matrixRank = rank
        let probabilities = evals.map { $0 / total + 1e-10 }
        entropy = -probabilities.reduce(0) { $0 + $1 * Foundation.log($1) } / Foundation.log(Double(rank) + 1e-10)
        rankLoss = esd.rankLoss
        weakRankLoss = evals.filter { $0 < options.weakRankTolerance }.count
        svMax = esd.svMax
        svMin = esd.svMin
        esdMethod = esd.method
        distribution = options.fit
        fingerFix = options.fixFingers
        switch fit {
        case .success(let fit):
            alpha = fit.alpha
            alphaWeighted = fit.alpha * log10(largest)
            xmin = fit.xmin
            xmax = fit.xmax
            d = fit.d
            sigma = fit.sigma
            numPLSpikes = fit.numPLSpikes
            truncationLambda = fit.lambda
            numFingers = fit.numFingers
            rawAlpha = fit.rawAlpha
            logAlphaNorm = log10(evals.reduce(0) { $0 + Foundation.pow($1, fit.alpha) })
            warning = fit.alpha < 2 ? "over-trained" : fit.alpha > 6 ? "under-trained" : ""
            status = "success"
        case .failure(let failure):
            warning = "failed"
            status = "failed"
            self.failure = failure.description
        }
        if options.detX { detX = .some(DetX(eigenvalues: evals, xmin: xmin)) }
        if options.mpFit { marchenkoPastur = .some(MarchenkoPasturFit(eigenvalues: evals, m: layer.m)) }
    }
}

/// Unweighted means over the analysed layers, as WeightWatcher's `get_summary()`; the alpha-based means leave out
/// layers whose fit failed.
public struct HTSRSummary: Sendable, Equatable, Encodable {
    public var layers: Int
    public var failedFits: Int
    public var skipped: Int
    public var logNorm: Double?
    public var alpha: Double?
    public var alphaWeighted: Double?
    public var logAlphaNorm: Double?
    public var logSpectralNorm: Double?
    public var stableRank: Double?
    /// With the Marchenko-Pastur fit: the mean over layers where it succeeded.
    public var mpSoftrank: Double?
    var rowsHadMPFit = false

    enum CodingKeys: String, CodingKey {
        case layers, failedFits = "failed_fits", skipped, logNorm = "log_norm", alpha, alphaWeighted = "alpha_weighted"
        case logAlphaNorm = "log_alpha_norm", logSpectralNorm = "log_spectral_norm", stableRank = "stable_rank"
        case mpSoftrank = "mp_softrank"
    }

    init(layers rows: [LayerReport], skipped: Int) {
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        layers = rows.count
        failedFits = rows.filter { $0.status == "failed" }.count
        self.skipped = skipped
        logNorm = mean(rows.map(\.logNorm))
        alpha = mean(rows.compactMap(\.alpha))
        alphaWeighted = mean(rows.compactMap(\.alphaWeighted))
        logAlphaNorm = mean(rows.compactMap(\.logAlphaNorm))
        logSpectralNorm = mean(rows.map(\.logSpectralNorm))
        stableRank = mean(rows.map(\.stableRank))
        mpSoftrank = mean(rows.compactMap { $0.marchenkoPastur??.softRank })
        rowsHadMPFit = rows.contains { $0.marchenkoPastur != nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(layers, forKey: .layers)
        try container.encode(failedFits, forKey: .failedFits)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(logNorm, forKey: .logNorm)
        try container.encode(alpha, forKey: .alpha)
        try container.encode(alphaWeighted, forKey: .alphaWeighted)
        try container.encode(logAlphaNorm, forKey: .logAlphaNorm)
        try container.encode(logSpectralNorm, forKey: .logSpectralNorm)
        try container.encode(stableRank, forKey: .stableRank)
        if rowsHadMPFit { try container.encode(mpSoftrank, forKey: .mpSoftrank) }
    }
}

import Foundation
import ModelImport
import NeuralNetworks
import Spectra

/// The eigensolver for the extreme eigenvalues.
public enum SpectrumMethod: String, Sendable, Codable, CaseIterable {
    /// Lanczos with thick restarts and full reorthogonalisation, converged on the Ritz residual.
    case lanczos
    /// Power iteration with deflation, as PyHessian's `eigenvalues()`.
    case power
    /// The whole matrix formed and diagonalised (small models only): ground truth.
    case dense
}

/// A trace or diagonal estimate: which estimator and how many operator applications.
public struct ProbeBudget<Method: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    public var method: Method
    public var matvecs: Int

    public init(method: Method, matvecs: Int = 100) {
        self.method = method
        self.matvecs = matvecs
    }
}

/// A spectral density estimate: SLQ (Ghorbani et al. 2019, PyHessian's density) or KPM (Lin, Saad and Yang 2016).
public struct DensitySettings: Sendable, Codable, Equatable {
    public var method: DensityMethod
    /// Random probes (PyHessian's n_v).
    public var probes: Int
    /// Lanczos steps per probe (SLQ, PyHessian's iter) or Chebyshev moments (KPM).
    public var steps: Int
    /// Points of the density's grid.
    public var gridPoints: Int
    /// The density of log10(|eigenvalue| + 1e-6 |eigenvalue|_max) instead of the eigenvalue.
    public var logSpectrum: Bool

    public init(method: DensityMethod = .slq, probes: Int = 1, steps: Int = 100, gridPoints: Int = 10000, logSpectrum: Bool = false) {
        self.method = method
        self.probes = probes
        self.steps = steps
        self.gridPoints = gridPoints
        self.logSpectrum = logSpectrum
    }

    enum CodingKeys: String, CodingKey {
        case method, probes, steps, gridPoints = "grid_points", logSpectrum = "log_spectrum"
    }
}

/// What `curvature spectrum` computes for each (checkpoint, parameter group): extreme eigenvalues, and optionally
/// the trace, the diagonal and the spectral density with its curvature criteria.
public struct SpectrumSettings: Sendable, Codable, Equatable {
    /// Lanczos's operator-application budget per end when none is given (`LanczosSolver.defaultMaxMatvecs`).
    public static let defaultLanczosBudget = LanczosSolver.defaultMaxMatvecs
    /// Power iteration's iterations per eigenvalue when none are given (PyHessian's maxIter).
    public static let defaultPowerIterations = 100

    /// How many of the largest eigenvalues.
    public var topK = 5
    /// How many of the smallest eigenvalues (Lanczos and dense).
    public var bottomK = 0
    public var method = SpectrumMethod.lanczos
    /// Lanczos: at most this many operator applications per end; power: iterations per eigenvalue.
    public var maxMatvecs: Int?
    /// Lanczos: residual tolerance relative to ||H||; power: relative change (PyHessian's tol).
    public var tolerance: Double?
    public var matrix = CurvatureMatrix.hessian
    /// Target draws per sample of the Monte-Carlo Fisher (seeded by ``seed``).
    public var monteCarloSamples = 1
    /// Only parameters whose names match this regular expression.
    public var parameters: String?
    /// How the selected parameters are split into rows: all together, one row per tensor (`--per-layer`), or one
    /// per module (`--per-module`).
    public var grouping = ParameterGrouping.all
    /// Seed of every random start vector and probe.
    public var seed: UInt64 = 0
    public var trace: ProbeBudget<TraceMethod>?
    public var diagonal: ProbeBudget<DiagonalMethod>?
    public var density: DensitySettings?
    /// Probes (and trace vectors) computed together, sharing each forward pass.
    public var probeBlock = 8

    public init() {}

    /// The tolerance in effect at `precision`: the given one, else for Lanczos and dense 1e-8 of ||H|| in Double and
    /// 1e-5 in Float, and 1e-3 for power iteration. Float's products carry rounding near 1e-6 of ||H|| (residuals of
    /// 2e-6 ||H|| on the digits MLP), so a Double tolerance would be out of reach: Lanczos would spend its whole budget
    /// and report "converged: false" on eigenpairs as good as Float gives.
    public func effectiveTolerance(precision: Precision) -> Double {
        tolerance ?? (method == .power ? 1e-3 : precision == .float ? 1e-5 : 1e-8)
    }

    /// The most points a density is evaluated at: far past what a plot or a table resolves, and 80 MB per curve.
    public static let maximumGridPoints = 10_000_000

    /// Whether the settings ask for anything and every count is in range; the message names the setting.
    public func validated() throws(SpectrumError) {
        guard topK >= 0, bottomK >= 0 else { throw .setting("--top-k and --bottom-k cannot be negative") }
        guard topK + bottomK > 0 || trace != nil || density != nil || diagonal != nil else {
            throw .setting("nothing to compute: ask for --top-k, --bottom-k, --trace, --diagonal or --density")
        }
        for budget in [trace?.matvecs, diagonal?.matvecs].compactMap({ $0 }) where budget < 1 {
            throw .setting("--matvecs must be at least 1")
        }
        if let density {
            guard density.probes >= 1 else { throw .setting("--probes must be at least 1") }
            guard density.steps >= 2 else { throw .setting("--steps must be at least 2") }
            guard density.gridPoints >= 2, density.gridPoints <= Self.maximumGridPoints else {
                throw .setting("--grid-points must be between 2 and \(Self.maximumGridPoints), got \(density.gridPoints)")
            }
        }
        guard monteCarloSamples >= 1 else { throw .setting("--mc-samples must be at least 1") }
        guard probeBlock >= 1 else { throw .setting("--probe-block must be at least 1") }
        if method == .power && bottomK > 0 {
            throw .setting("--method power finds the largest-magnitude eigenvalues only; use lanczos or dense for --bottom-k")
        }
        if let maxMatvecs, maxMatvecs < 1 { throw .setting("--max-matvecs must be at least 1") }
        if let tolerance, !(tolerance > 0 && tolerance.isFinite) { throw .setting("--tolerance must be a positive finite number, got \(tolerance)") }
    }

    enum CodingKeys: String, CodingKey {
        case topK = "top_k", bottomK = "bottom_k", method, maxMatvecs = "max_matvecs", tolerance, matrix, monteCarloSamples = "mc_samples", parameters
        case grouping, perLayer = "per_layer", seed, trace, diagonal, density, probeBlock = "probe_block"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(topK, forKey: .topK)
        try c.encode(bottomK, forKey: .bottomK)
        try c.encode(method, forKey: .method)
        try c.encodeIfPresent(maxMatvecs, forKey: .maxMatvecs)
        try c.encodeIfPresent(tolerance, forKey: .tolerance)
        try c.encode(matrix, forKey: .matrix)
        try c.encode(monteCarloSamples, forKey: .monteCarloSamples)
        try c.encodeIfPresent(parameters, forKey: .parameters)
        try c.encode(grouping, forKey: .grouping)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(trace, forKey: .trace)
        try c.encodeIfPresent(diagonal, forKey: .diagonal)
        try c.encodeIfPresent(density, forKey: .density)
        try c.encode(probeBlock, forKey: .probeBlock)
    }

    /// Decodes settings; those written before ``grouping`` said `per_layer` instead.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        topK = try c.decode(Int.self, forKey: .topK)
        bottomK = try c.decode(Int.self, forKey: .bottomK)
        method = try c.decode(SpectrumMethod.self, forKey: .method)
        maxMatvecs = try c.decodeIfPresent(Int.self, forKey: .maxMatvecs)
        tolerance = try c.decodeIfPresent(Double.self, forKey: .tolerance)
        matrix = try c.decode(CurvatureMatrix.self, forKey: .matrix)
        monteCarloSamples = try c.decode(Int.self, forKey: .monteCarloSamples)
        parameters = try c.decodeIfPresent(String.self, forKey: .parameters)
        grouping = try c.decodeIfPresent(ParameterGrouping.self, forKey: .grouping)
            ?? (try c.decodeIfPresent(Bool.self, forKey: .perLayer) == true ? .tensor : .all)
        seed = try c.decode(UInt64.self, forKey: .seed)
        trace = try c.decodeIfPresent(ProbeBudget<TraceMethod>.self, forKey: .trace)
        diagonal = try c.decodeIfPresent(ProbeBudget<DiagonalMethod>.self, forKey: .diagonal)
        density = try c.decodeIfPresent(DensitySettings.self, forKey: .density)
        probeBlock = try c.decode(Int.self, forKey: .probeBlock)
    }
}

/// How a spectrum's parameters are split into rows.
public enum ParameterGrouping: String, Sendable, Codable, CaseIterable {
    /// One row for every selected parameter together.
    case all
    /// One row per parameter tensor.
    case tensor
    /// One row per module: the tensors whose names agree up to the last dot ("layer.0.attention.self.query" for its
    /// weight and bias), the blocks "Why Transformers Need Adam: A Hessian Perspective" (Zhang et al. 2024) compares
    /// (embeddings, each attention projection and MLP layer, the head).
    case module

    /// The rows for `names`, in their order: (label, names).
    public func rows(_ names: [String], label: String) -> [(String, [String])] {
        switch self {
        case .all: return [(label, names)]
        case .tensor: return names.map { ($0, [$0]) }
        case .module:
            var rows: [(String, [String])] = []
            for name in names {
                let module = name.split(separator: ".").dropLast().joined(separator: ".")
                let key = module.isEmpty ? name : module
                if let index = rows.firstIndex(where: { $0.0 == key }) { rows[index].1.append(name) } else { rows.append((key, [name])) }
            }
            return rows
        }
    }
}

/// Why a spectrum analysis cannot run or finish.
public enum SpectrumError: Error, CustomStringConvertible, Equatable {
    /// A setting out of range or a combination that means nothing.
    case setting(String)
    /// The parameter pattern matches nothing, or is not a regular expression.
    case parameters(String)
    /// An estimator failed (a budget too small for its sketch, a rank-deficient sketch).
    case estimate(String)
    /// The checkpoint cannot be read, belongs to other settings, or cannot be written.
    case checkpoint(String)
    /// An output file cannot be written.
    case output(String)

    public var description: String {
        switch self {
        case .setting(let message), .parameters(let message), .estimate(let message), .checkpoint(let message), .output(let message): message
        }
    }
}

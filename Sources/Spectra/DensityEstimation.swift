import LinearAlgebra

/// How the spectral density is estimated.
public enum DensityMethod: String, Sendable, Codable, CaseIterable {
    /// Stochastic Lanczos quadrature, Gaussian-broadened as PyHessian does.
    case slq
    /// The kernel polynomial method: Chebyshev moments, Jackson damping, reconstruction by DCT.
    case kpm
}

/// The work an interrupted density estimate had finished: enough to continue it exactly.
public struct DensityProgress: Sendable, Codable, Equatable {
    /// SLQ: one quadrature rule per finished probe.
    public var rules: [QuadratureRule] = []
    /// KPM: the spectral bounds (fixed once computed) and one moment list per finished probe.
    public var bounds: SpectralBounds?
    public var moments: [[Double]] = []

    public init(rules: [QuadratureRule] = [], bounds: SpectralBounds? = nil, moments: [[Double]] = []) {
        self.rules = rules
        self.bounds = bounds
        self.moments = moments
    }
}

/// A finished density estimate.
public struct DensityEstimate: Sendable, Codable, Equatable {
    public var method: DensityMethod
    public var probes: Int
    /// Lanczos steps (SLQ: the most any probe took; Lanczos stops early when a probe's Krylov space is exhausted,
    /// and never passes the dimension) or Chebyshev moments (KPM).
    public var steps: Int
    public var density: SpectralDensity
    /// SLQ's quadrature rules, one per probe (empty for KPM).
    public var rules: [QuadratureRule]
    /// KPM's bounds and probe-averaged moments (nil for SLQ).
    public var bounds: SpectralBounds?
    public var moments: [Double]?
    /// Operator applications used.
    public var matvecs: Int
}

/// SLQ or KPM end to end: probes in blocks, a checkpoint after each block, the density on a grid.
public struct DensityEstimator: Sendable {
    public var method: DensityMethod
    public var probes: Int
    public var steps: Int
    public var seed: UInt64
    public var blockSize: Int
    public var points: Int
    public var logSpectrum: Bool

    public init(method: DensityMethod = .slq, probes: Int = 1, steps: Int = 100, seed: UInt64 = 0, blockSize: Int = 1,
                points: Int = 10000, logSpectrum: Bool = false) {
        self.method = method
        self.probes = probes
        self.steps = steps
        self.seed = seed
        self.blockSize = blockSize
        self.points = points
        self.logSpectrum = logSpectrum
    }

    /// Runs the estimate, continuing from `progress`, and hands the progress so far to `record` after every block.
    public func estimate(
        _ linearOperator: any LinearOperator, progress: DensityProgress = .init(), record: (DensityProgress) throws -> Void = { _ in }
    ) throws -> DensityEstimate {
        var state = progress
        switch method {
        case .slq:
            let rules = try StochasticLanczosQuadrature(steps: min(steps, linearOperator.dimension), seed: seed, blockSize: blockSize)
                .rules(linearOperator, probes: probes, completed: state.rules) { rules in
                    state.rules = rules
                    try record(state)
                }
            return DensityEstimate(method: .slq, probes: probes, steps: rules.map(\.nodes.count).max() ?? 0,
                                   density: .gaussianBroadening(rules, points: points, logSpectrum: logSpectrum), rules: rules,
                                   bounds: nil, moments: nil, matvecs: rules.reduce(0) { $0 + $1.nodes.count })
        case .kpm:
            let boundsSteps = min(30, linearOperator.dimension)
            if state.bounds == nil {
                state.bounds = try SpectralBounds.estimate(linearOperator, steps: boundsSteps, seed: seed)
                try record(state)
            }
            let bounds = state.bounds!
            let perProbe = try KernelPolynomialMethod(moments: steps, seed: seed, blockSize: blockSize)
                .probeMoments(linearOperator, bounds: bounds, probes: probes, completed: state.moments) { moments in
                    state.moments = moments
                    try record(state)
                }
            let averaged = (0..<steps).map { k in perProbe.reduce(0) { $0 + $1[k] } / Double(perProbe.count) }
            return DensityEstimate(method: .kpm, probes: probes, steps: steps,
                                   density: KernelPolynomialMethod.density(moments: averaged, bounds: bounds, points: points, logSpectrum: logSpectrum),
                                   rules: [], bounds: bounds, moments: averaged, matvecs: boundsSteps + probes * (steps / 2))
        }
    }
}

import Foundation
import ModelImport
import NeuralNetworks
import Spectra

/// One analysed (checkpoint, parameter group).
public struct SpectrumRow: Sendable, Codable, Equatable {
    public var checkpoint: String?
    public var parameters: String
    public var nParameters: Int
    public var loss: Double
    public var topEigenvalues: [Double]
    public var bottomEigenvalues: [Double]
    public var residuals: Residuals
    /// Operator applications by the eigensolver (Hessian-vector products for the Hessian), both ends together.
    public var matvecs: Int
    /// Lanczos: thick restarts; power iteration and dense: 0.
    public var restarts: Int
    public var converged: Bool
    public var trace: TraceEstimate?
    public var density: DensityResult?
    public var criteria: CurvatureCriteria?

    public struct Residuals: Sendable, Codable, Equatable {
        public var top: [Double]
        public var bottom: [Double]
    }
}

/// The density as JSON carries it: the grid and values, and SLQ's nodes and weights per probe (KPM: its bounds and
/// damped-before moments instead).
public struct DensityResult: Sendable, Codable, Equatable {
    public var method: DensityMethod
    public var probes: Int
    public var steps: Int
    public var logSpectrum: Bool
    public var matvecs: Int
    public var grid: [Double]
    public var values: [Double]
    public var nodes: [[Double]]
    public var weights: [[Double]]
    public var bounds: SpectralBounds?
    public var moments: [Double]?

    public init(_ estimate: DensityEstimate) {
        method = estimate.method
        probes = estimate.probes
        steps = estimate.steps
        logSpectrum = estimate.density.logSpectrum
        matvecs = estimate.matvecs
        grid = estimate.density.grid
        values = estimate.density.values
        nodes = estimate.rules.map(\.nodes)
        weights = estimate.rules.map(\.weights)
        bounds = estimate.bounds
        moments = estimate.moments
    }
}

/// What `curvature spectrum` reports: the run's settings and one row per checkpoint and parameter group. With one
/// row, its fields are also given at the top level.
public struct SpectrumReport: Sendable, Encodable {
    /// The report's layout version; it changes when a key changes meaning or is renamed.
    public static let formatVersion = 2
    public var model: String
    public var data: String
    public var nSamples: Int
    public var method: SpectrumMethod
    public var matrix: CurvatureMatrix
    /// The loss whose curvature this is.
    public var lossFunction: Loss
    public var seed: UInt64
    public var bnMode: BatchNormMode
    public var precision: Precision
    public var tolerance: Double
    public var batchNormFolded: Bool
    public var untiedTensors: [ONNXGraphModel.UntiedTensor]
    public var rows: [SpectrumRow]

    public init(model: String, data: String, nSamples: Int, method: SpectrumMethod, matrix: CurvatureMatrix, lossFunction: Loss, seed: UInt64,
                bnMode: BatchNormMode, precision: Precision, tolerance: Double, batchNormFolded: Bool,
                untiedTensors: [ONNXGraphModel.UntiedTensor], rows: [SpectrumRow]) {
        self.model = model
        self.data = data
        self.nSamples = nSamples
        self.method = method
        self.matrix = matrix
        self.lossFunction = lossFunction
        self.seed = seed
        self.bnMode = bnMode
        self.precision = precision
        self.tolerance = tolerance
        self.batchNormFolded = batchNormFolded
        self.untiedTensors = untiedTensors
        self.rows = rows
    }

    enum CodingKeys: String, CodingKey {
        case version, model, data, nSamples, method, matrix, lossFunction, seed, bnMode, precision, tolerance, batchNormFolded, untiedTensors, rows
        case nParameters, loss, topEigenvalues, bottomEigenvalues, residuals, matvecs, restarts, converged, trace, density, criteria
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatVersion, forKey: .version)
        try c.encode(model, forKey: .model)
        try c.encode(data, forKey: .data)
        try c.encode(nSamples, forKey: .nSamples)
        try c.encode(method, forKey: .method)
        try c.encode(matrix, forKey: .matrix)
        try c.encode(lossFunction, forKey: .lossFunction)
        try c.encode(seed, forKey: .seed)
        try c.encode(bnMode, forKey: .bnMode)
        try c.encode(precision, forKey: .precision)
        try c.encode(tolerance, forKey: .tolerance)
        try c.encode(batchNormFolded, forKey: .batchNormFolded)
        try c.encode(untiedTensors, forKey: .untiedTensors)
        try c.encode(rows, forKey: .rows)
        if rows.count == 1, let row = rows.first {
            try c.encode(row.nParameters, forKey: .nParameters)
            try c.encode(row.loss, forKey: .loss)
            try c.encode(row.topEigenvalues, forKey: .topEigenvalues)
            try c.encode(row.bottomEigenvalues, forKey: .bottomEigenvalues)
            try c.encode(row.residuals, forKey: .residuals)
            try c.encode(row.matvecs, forKey: .matvecs)
            try c.encode(row.restarts, forKey: .restarts)
            try c.encode(row.converged, forKey: .converged)
            try c.encodeIfPresent(row.trace, forKey: .trace)
            try c.encodeIfPresent(row.density, forKey: .density)
            try c.encodeIfPresent(row.criteria, forKey: .criteria)
        }
    }
}

import Foundation

/// What `curvature demo` runs: a small CNN trained on the shipped digits, then the three analyses of this toolkit on
/// it — the Hessian's spectrum (top eigenvalues, trace, density with its outliers), HTSR of its weights, and a loss
/// landscape along its top two Hessian eigenvectors. Everything is seeded; the same settings give the same numbers.
public struct Demo: Sendable {
    /// Seeds the weights, the minibatch order, every probe and the landscape's axes.
    public var seed: UInt64 = 0
    public var epochs = 12
    public var batchSize = 32
    public var learningRate = 1e-2
    /// Held out for the test accuracy (the last samples of the set).
    public var testSamples = 297
    public var topEigenvalues = 5
    /// The Hessian is that of the loss over the first this many training images (a batch, as PyHessian uses one).
    public var hessianSamples = 500
    /// Hutchinson probes for the trace; SLQ probes and Lanczos steps for the density.
    public var traceProbes = 30
    public var densityProbes = 4
    public var densitySteps = 40
    /// The landscape grid, points per axis, over [-range, range] along unit Hessian eigenvectors.
    public var gridPoints = 21
    public var range = 1.0

    public init() {}

    /// The network: conv 1->8 (3x3, padding 1), ReLU, 2x2 max-pool, conv 8->16, ReLU, 2x2 max-pool, linear 64->10,
    /// on the digits as 1x8x8 images.
    public static let model: Sequential = Sequential(named: [
        ("conv1", Conv2d(1, 8, kernelSize: 3, padding: 1)), ("relu1", Activation.relu), ("pool1", Pool2d(.max, kernelSize: 2)),
        ("conv2", Conv2d(8, 16, kernelSize: 3, padding: 1)), ("relu2", Activation.relu), ("pool2", Pool2d(.max, kernelSize: 2)),
        ("flatten", Flatten()), ("fc", Linear(64, 10)),
    ])

    /// Everything the demo computed.
    public struct Result: Sendable {
        public var history: [EpochReport]
        public var parameters: ParameterSet<Double>
        public var trainSamples: Int
        public var testSamples: Int
        public var trainLoss: Double
        public var testAccuracy: Double
        /// The largest Hessian eigenvalues (Lanczos) of the loss over the first `hessianSamples` training images.
        public var top: EigenResult
        public var trace: TraceEstimate
        public var density: DensityEstimate
        /// Outlier count, bulk edge and the other criteria from the SLQ quadrature.
        public var criteria: CurvatureCriteria
        public var htsr: HTSRReport
        /// Loss and accuracy on the training set at theta + a v1 + b v2, v1 and v2 the top two unit eigenvectors.
        public var landscape: LandscapeGrid
    }

    /// A stage the demo has reached, for a caller that shows progress.
    public typealias Progress = @Sendable (String) -> Void

    /// Trains and analyses. `digits` is the shipped set: 1797 flattened 8x8 images with values in [0, 1].
    public func run(digits: Dataset<Double>, progress: Progress = { _ in }) async throws -> Result {
        // The matrices here are tiny (at most 1500 x 144): OpenBLAS's threads would only spin.
        let singleThreaded = BLASThreads.begin(1)
        defer { singleThreaded.end() }
        let images = Dataset(inputs: digits.inputs.reshaped([digits.count, 1, 8, 8]), targets: digits.targets)
        let trainCount = images.count - testSamples
        let train = images.rows(Array(0..<trainCount)), test = images.rows(Array(trainCount..<images.count))
        let trainer = Trainer<Double>(model: Self.model, loss: .crossEntropy, optimizer: .adam(learningRate: learningRate),
                                      batchSize: batchSize, epochs: epochs, seed: seed)
        let trained = trainer.train(parameters: Self.model.makeParameters(seed: seed), data: train) { report, _, _ in
            progress(String(format: "training: epoch %d/%d, loss %.4f", report.epoch, epochs, report.loss))
        }
        let objective = Objective(model: Self.model, parameters: trained.parameters, buffers: trained.buffers,
                                  loss: .crossEntropy, data: train)
        var testObjective = objective
        testObjective.data = test
        var hessianObjective = objective
        hessianObjective.data = train.rows(Array(0..<min(hessianSamples, trainCount)))
        let op = HessianOperator(hessianObjective)

        progress("spectrum: top \(topEigenvalues) eigenvalues by Lanczos")
        let top = LanczosSolver(count: topEigenvalues, end: .largest, tolerance: 1e-5, seed: seed).solve(op)
        progress("spectrum: trace by Hutchinson, \(traceProbes) probes")
        let trace = try TraceEstimator(method: .hutchinson, matvecs: traceProbes, seed: seed).estimate(op)
        progress("spectrum: density by SLQ, \(densityProbes) probes of \(densitySteps) steps")
        let density = try DensityEstimator(method: .slq, probes: densityProbes, steps: densitySteps, seed: seed).estimate(op)
        let criteria = CurvatureCriteria.compute(rules: density.rules, dimension: hessianObjective.dimension,
                                                 eigenvalues: zip(top.eigenvalues, top.residuals).map { (value: $0.0, residual: $0.1) })

        progress("htsr: weight matrices")
        // Our convolutions hold their kernels as PyTorch does, (out, in, kh, kw).
        let archive = InMemoryArchive(path: "demo CNN", tensors: zip(trained.parameters.names, trained.parameters.tensors).map {
            StoredTensor(name: $0.0, tensor: $0.1.converted(to: Float.self))
        }, kernelLayout: .channelsFirst)
        let htsr = try await analyzeHTSR(archive)

        progress("landscape: \(gridPoints)x\(gridPoints) grid along the top two Hessian eigenvectors")
        let weights = LandscapeAxes.namedTensors(trained.parameters)
        let axes = LandscapeAxes.hessian(hessianObjective, weights: weights, count: 2, pair: .top, seed: seed, normalization: .none,
                                         lowRank: .ignore)
        let slice = LandscapeSlice(objective: objective, directions: axes.directions)
        let coordinates = (0..<gridPoints).map { -range + 2 * range * Double($0) / Double(gridPoints - 1) }
        var grid = LandscapeGrid(x: coordinates, y: coordinates, quantities: slice.quantities)
        try grid.fill(shard: nil, workers: 1, evaluate: slice.evaluate) { _ in }

        let trainEvaluation = objective.evaluate(), testEvaluation = testObjective.evaluate()
        return Result(history: trained.history, parameters: trained.parameters, trainSamples: trainCount, testSamples: testSamples,
                      trainLoss: Double(trainEvaluation.loss), testAccuracy: testEvaluation.accuracy ?? .nan, top: top, trace: trace,
                      density: density, criteria: criteria, htsr: htsr, landscape: grid)
    }
}

import Autodiff
import LinearAlgebra

/// A model, a loss, a data set and the parameters to differentiate: the empirical risk whose curvature is analysed.
/// It owns the data, its batching and the BatchNorm mode; the curvature matrices (``HessianOperator``,
/// ``GGNOperator``, ``EmpiricalFisherOperator``, ``MonteCarloFisherOperator``) are operators over it.
///
/// BatchNorm runs in `batchNormMode`: eval (running statistics, the default) makes the loss a sum over samples, so
/// the full-data quantities are exact whatever the batch size; train (batch statistics) makes them depend on the
/// batching, and every result should say so.
///
/// Coordinates are the subset's parameters flattened in the parameter set's order (`dimension` of them); other
/// parameters are held fixed. Over the whole data set every quantity is the sample-weighted mean of the batch
/// quantities, `sum_b (n_b / N) q_b`, which is exactly the full-data loss, gradient, Hessian, GGN or Fisher, whatever
/// the batch size (the batch size only trades memory for speed). Over one batch it is that batch's.
///
/// With a ``DataShare`` the data set is this process's share of one split over several processes: every full-data
/// quantity is this share's part, `sum_b (n_b / N) q_b` over its own batches with N the total over all processes,
/// added over the processes in one message per call (a block of products in one message). The result is the
/// single-process one to rounding, for any number of processes. BatchNorm in train mode then normalises over each
/// process's own batches.
public struct Objective<Scalar: TensorScalar>: Sendable {
    public var model: any Layer
    /// All parameter values; those in `parameterNames` are replaced by the point `theta` of each call.
    public var parameters: ParameterSet<Scalar>
    /// Buffers (BatchNorm running statistics): constants, never differentiated.
    public var buffers: ParameterSet<Scalar>
    public var batchNormMode: BatchNormMode
    public var loss: Loss
    public var data: Dataset<Scalar>
    public var batchSize: Int
    /// The differentiated parameters.
    public var parameterNames: [String]
    public var scope: Scope
    /// How Hessian-vector products are formed, single or in blocks.
    public var hessianProductMode: HessianProductMode = .forwardOverReverse
    /// The data set's split over processes, when `data` is one process's share; nil for a single process.
    public var share: DataShare? {
        didSet { precondition(share == nil || scope == .fullData, "a data share covers the full data scope only") }
    }

    /// Which samples a quantity is taken over.
    public enum Scope: Sendable, Equatable {
        case fullData
        /// Batch `index` of the batching by `batchSize`.
        case batch(Int)
    }

    public init(model: any Layer, parameters: ParameterSet<Scalar>, buffers: ParameterSet<Scalar>? = nil, loss: Loss,
                data: Dataset<Scalar>, batchSize: Int = 256, parameterNames: [String]? = nil, scope: Scope = .fullData,
                batchNormMode: BatchNormMode = .eval) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        self.model = model
        self.parameters = parameters
        self.buffers = buffers ?? model.makeBuffers()
        self.batchNormMode = batchNormMode
        self.loss = loss
        self.data = data
        self.batchSize = batchSize
        self.parameterNames = parameterNames ?? parameters.names
        self.scope = scope
    }

    /// The number of coordinates.
    public var dimension: Int { parameters.dimension(of: parameterNames) }

    /// The number of samples the scope covers: the whole data set (every process's share), or the one batch.
    public var sampleCount: Int { share?.totalSamples ?? weightedBatches.reduce(0) { $0 + $1.data.count } }

    /// The current point: the subset's parameters flattened.
    public var point: Tensor<Scalar> { parameters.flattened(parameterNames) }

    // MARK: Batching

    /// The number of terms the loss over the scope is a mean of (samples, or tokens not ignored), every process's.
    public var termCount: Int {
        share?.totalTerms ?? weightedBatches.reduce(0) { $0 + loss.termCount($1.data.targets) }
    }

    /// The batches of the scope with their weights n_b / N (or 1 for a single batch), n_b the terms of the batch's
    /// loss (``Loss/termCount(_:)``: samples, or tokens not ignored) and N those of the whole data set.
    var weightedBatches: [(weight: Scalar, data: Dataset<Scalar>)] {
        let batches = data.batches(of: batchSize)
        switch scope {
        case .fullData:
            let total = Scalar(Swift.max(1, share?.totalTerms ?? loss.termCount(data.targets)))
            return batches.map { (Scalar(loss.termCount($0.targets)) / total, $0) }
        case .batch(let index):
            precondition(index >= 0 && index < batches.count, "batch \(index) of \(batches.count)")
            return [(1, batches[index])]
        }
    }

    /// How many batches ``weightedBatches`` has, without slicing the data.
    var batchCount: Int {
        switch scope {
        case .fullData: (data.count + batchSize - 1) / batchSize
        case .batch: 1
        }
    }

    /// The leaves for `theta` and the scope the model reads its parameters from. The leaves are differentiable
    /// (reverse mode) when `differentiable`, and carry the pieces of `tangent` as forward-mode tangents when given.
    /// With `linearization`, the leaves are that linearization's (differentiable, their tangents given at replay).
    func leaves(_ theta: Tensor<Scalar>, tangent: Tensor<Scalar>? = nil, differentiable: Bool = true,
                linearization: Linearization<Scalar>? = nil) -> (variables: [Variable<Scalar>], scope: ParameterScope<Scalar>) {
        precondition(theta.count == dimension, "point of \(theta.count) coordinates for \(dimension)")
        precondition(tangent.map { $0.count == dimension } ?? true, "tangent of \(tangent?.count ?? 0) coordinates for \(dimension)")
        var values: [String: Variable<Scalar>] = [:]
        for (name, tensor) in zip(parameters.names + buffers.names, parameters.tensors + buffers.tensors) { values[name] = Variable(tensor) }
        let tangents = tangent.map { parameters.split($0, parameterNames).map(\.1) }
        var variables: [Variable<Scalar>] = []
        for (index, (name, tensor)) in parameters.split(theta, parameterNames).enumerated() {
            let direction = tangents?[index]
            let leaf = linearization?.leaf(tensor) ?? (differentiable ? Variable.differentiable(tensor, tangent: direction)
                : direction.map { Variable.dual(tensor, tangent: $0) } ?? Variable(tensor))
            values[name] = leaf
            variables.append(leaf)
        }
        return (variables, ParameterScope(values, context: ForwardContext(batchNormMode: batchNormMode)))
    }

    /// Every parameter and buffer as a constant: a forward pass that records no tape.
    func constantScope() -> ParameterScope<Scalar> {
        var values: [String: Variable<Scalar>] = [:]
        for (name, tensor) in zip(parameters.names + buffers.names, parameters.tensors + buffers.tensors) { values[name] = Variable(tensor) }
        return ParameterScope(values, context: ForwardContext(batchNormMode: batchNormMode))
    }

    /// Sums per-batch vectors with weights, over every process's share.
    func accumulate(_ parts: [(Scalar, Tensor<Scalar>)]) -> Tensor<Scalar> {
        var total = Tensor<Scalar>(zeros: [dimension])
        for (weight, part) in parts { total.addScaled(part, by: weight) }
        return combined([total])[0]
    }

    /// This process's partial sums added over every process's share, in one message; themselves without a share.
    func combined(_ pieces: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        guard let share else { return pieces }
        let total = share.sums.sum(pieces.flatMap { $0.scalars.map { Double($0) } })
        var offset = 0
        return pieces.map { piece in
            defer { offset += piece.count }
            return Tensor(shape: piece.shape, scalars: total[offset..<(offset + piece.count)].map { Scalar($0) })
        }
    }

    static func flatten(_ pieces: [Variable<Scalar>]) -> Tensor<Scalar> { Tensor(concatenating: pieces.map(\.value)) }

    /// Splits a flat vector into per-parameter constants shaped like `like`.
    static func split(_ vector: Tensor<Scalar>, like variables: [Variable<Scalar>]) -> [Variable<Scalar>] {
        var offset = 0
        return variables.map { variable in
            defer { offset += variable.value.count }
            return Variable(Tensor(shape: variable.shape, scalars: Array(vector.scalars[offset..<(offset + variable.value.count)])))
        }
    }

    // MARK: Loss, gradient, Hessian

    /// The loss at `theta`.
    public func lossValue(at theta: Tensor<Scalar>) -> Scalar {
        let local: Scalar = weightedBatches.reduce(0) { total, batch in
            let (_, scope) = leaves(theta)
            return total + batch.weight * loss(model(batch.data, scope), batch.data.targets).value.scalars[0]
        }
        return combined([Tensor(shape: [1], scalars: [local])])[0].scalars[0]
    }

    /// The loss and its gradient at `theta`.
    public func lossAndGradient(at theta: Tensor<Scalar>) -> (loss: Scalar, gradient: Tensor<Scalar>) {
        var value: Scalar = 0
        var parts: [(Scalar, Tensor<Scalar>)] = []
        for batch in weightedBatches {
            let (variables, scope) = leaves(theta)
            let batchLoss = loss(model(batch.data, scope), batch.data.targets)
            value += batch.weight * batchLoss.value.scalars[0]
            parts.append((batch.weight, Self.flatten(gradients(of: batchLoss, withRespectTo: variables))))
        }
        var gradient = Tensor<Scalar>(zeros: [dimension])
        for (weight, part) in parts { gradient.addScaled(part, by: weight) }
        let total = combined([Tensor(shape: [1], scalars: [value]), gradient])
        return (total[0].scalars[0], total[1])
    }

    /// The Hessian times `v`, formed as ``hessianProductMode`` says (Pearlmutter 1994: `H v = d/dr grad L(theta + r v)`
    /// at r = 0, either by differentiating `<grad L, v>` again or by carrying `v` as a tangent through the gradient).
    public func hessianVectorProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>) -> Tensor<Scalar> {
        hessianBlockProduct(at: theta, [v])[0]
    }

    /// The Hessian times each of `vectors`, formed as ``hessianProductMode`` says, sharing each batch's forward pass
    /// and first backward pass across the vectors: forward-over-reverse replays only the recorded tangent rules of both
    /// passes per vector (`Linearization`); reverse-over-reverse differentiates the recorded gradient once per vector.
    public func hessianBlockProduct(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        if hessianProductMode == .forwardOverReverse {
            return vectors.count == 1 ? [forwardOverReverseProduct(at: theta, vectors[0])] : forwardOverReverseBlock(at: theta, vectors)
        }
        var parts = [[(Scalar, Tensor<Scalar>)]](repeating: [], count: vectors.count)
        for batch in weightedBatches {
            let (variables, scope) = leaves(theta)
            let batchLoss = loss(model(batch.data, scope), batch.data.targets)
            let first = gradients(of: batchLoss, withRespectTo: variables, createGraph: true)
            for (index, v) in vectors.enumerated() {
                let pieces = Self.split(v, like: variables)
                let inner = zip(first, pieces).map { $0.dot($1) }.reduce(Variable.constant(0), +)
                parts[index].append((batch.weight, Self.flatten(gradients(of: inner, withRespectTo: variables))))
            }
        }
        return accumulateBlock(parts)
    }

    /// ``accumulate(_:)`` for each vector of a block, over every process's share in one message.
    func accumulateBlock(_ parts: [[(Scalar, Tensor<Scalar>)]]) -> [Tensor<Scalar>] {
        combined(parts.map { vectorParts in
            var total = Tensor<Scalar>(zeros: [dimension])
            for (weight, part) in vectorParts { total.addScaled(part, by: weight) }
            return total
        })
    }

    /// `H v` as the tangent of the gradient: the forward pass carries `v` as the parameters' tangent, and the backward
    /// pass, which records nothing, carries the tangents of the gradient along with it.
    func forwardOverReverseProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>) -> Tensor<Scalar> {
        var parts: [(Scalar, Tensor<Scalar>)] = []
        for batch in weightedBatches {
            let (variables, scope) = leaves(theta, tangent: v)
            let batchLoss = loss(model(batch.data, scope), batch.data.targets)
            let gradient = gradients(of: batchLoss, withRespectTo: variables)
            parts.append((batch.weight, Tensor(concatenating: gradient.map(Self.tangent))))
        }
        return accumulate(parts)
    }

    /// `H v` for each of `vectors`: the forward and backward passes run once per batch under a linearization, whose
    /// tangent rules are then replayed per vector with the parameters' tangents `v`.
    func forwardOverReverseBlock(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        blockProduct(vectors) { batch, _ in recordedGradient(at: theta, on: batch) }
    }

    /// Every batch's gradient at `theta`, recorded under its own linearization, ready for any number of products.
    func recordedGradients(at theta: Tensor<Scalar>) -> [RecordedGradient<Scalar>] {
        weightedBatches.map { recordedGradient(at: theta, on: $0) }
    }

    func recordedGradient(at theta: Tensor<Scalar>, on batch: (weight: Scalar, data: Dataset<Scalar>)) -> RecordedGradient<Scalar> {
        let linearization = Linearization<Scalar>()
        let (variables, gradient) = linearization.recording {
            let (variables, scope) = leaves(theta, linearization: linearization)
            let batchLoss = loss(model(batch.data, scope), batch.data.targets)
            return (variables, gradients(of: batchLoss, withRespectTo: variables))
        }
        return RecordedGradient(weight: batch.weight, linearization: linearization, variables: variables, gradient: gradient)
    }

    /// The products with `vectors`, one batch at a time: `record(batch, index)` records it, every vector replays it,
    /// and it is released before the next batch is recorded.
    func blockProduct<Recorded: RecordedBatch<Scalar>>(
        _ vectors: [Tensor<Scalar>], recordingEach record: ((weight: Scalar, data: Dataset<Scalar>), Int) -> Recorded
    ) -> [Tensor<Scalar>] {
        var parts = [[(Scalar, Tensor<Scalar>)]](repeating: [], count: vectors.count)
        for (batchIndex, batch) in weightedBatches.enumerated() {
            let recorded = record(batch, batchIndex)
            for (index, v) in vectors.enumerated() { parts[index].append((batch.weight, recorded.product(v))) }
        }
        return accumulateBlock(parts)
    }

    /// The products with `vectors` of the matrix whose batches were recorded (``recordedGradients(at:)``,
    /// ``recordedOutputs(at:_:)``): no value is recomputed.
    func blockProduct<Recorded: RecordedBatch<Scalar>>(replaying recorded: [Recorded], _ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        accumulateBlock(vectors.map { v in recorded.map { ($0.weight, $0.product(v)) } })
    }

    // MARK: Jacobian products of the model's outputs

    /// `J v`: the change of the model's outputs on `batch` along `v`, by one forward pass that carries `v` as the
    /// parameters' tangent and records no graph.
    public func jacobianVectorProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>, on batch: Dataset<Scalar>) -> Tensor<Scalar> {
        let (_, scope) = leaves(theta, tangent: v, differentiable: false)
        return Self.tangent(of: model(batch, scope))
    }

    /// A variable's tangent, zeros when nothing it depends on moves.
    static func tangent(of variable: Variable<Scalar>) -> Tensor<Scalar> { variable.tangent ?? Tensor(zeros: variable.shape) }

    /// `J^T u`: the gradient of `<outputs, u>` with respect to the parameters, on `batch`.
    public func vectorJacobianProduct(at theta: Tensor<Scalar>, _ u: Tensor<Scalar>, on batch: Dataset<Scalar>) -> Tensor<Scalar> {
        let (variables, scope) = leaves(theta)
        let outputs = model(batch, scope)
        return Self.flatten(gradients(of: outputs.dot(Variable(u)), withRespectTo: variables))
    }

    // MARK: Gauss-Newton and Fisher

    /// The generalised Gauss-Newton matrix times `v`: `J^T H_loss J v`, with H_loss the Hessian of the loss with
    /// respect to the model's outputs. Positive semi-definite for cross-entropy and MSE.
    public func ggnVectorProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>) -> Tensor<Scalar> {
        ggnBlockProduct(at: theta, [v])[0]
    }

    /// ``ggnVectorProduct(at:_:)`` for each of `vectors`, sharing each batch's forward pass: `J v` replays the
    /// recorded forward pass's tangent rules, `H_loss (J v)` is the tangent of the loss's gradient with respect to the
    /// outputs, and `J^T` one backward pass through the recorded outputs.
    public func ggnBlockProduct(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        outputSpaceBlockProduct(at: theta, vectors, .ggn)
    }

    /// The empirical Fisher times `v`: `(1/N) sum_i g_i (g_i . v)`, g_i the gradient of sample i's loss l_i
    /// (the loss is the mean of the l_i). Computed as `J^T [(1/N) (grad_z l_i . (J v)_i) grad_z l_i]`.
    public func empiricalFisherVectorProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>) -> Tensor<Scalar> {
        empiricalFisherBlockProduct(at: theta, [v])[0]
    }

    /// ``empiricalFisherVectorProduct(at:_:)`` for each of `vectors`, sharing each batch's forward pass and
    /// per-sample output gradients.
    public func empiricalFisherBlockProduct(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        outputSpaceBlockProduct(at: theta, vectors, .empiricalFisher)
    }

    /// The Monte-Carlo Fisher times `v`: the empirical Fisher with targets drawn from the model's predictive
    /// distribution (``Loss/sampledTargets(_:using:)``), averaged over `samples` draws per input, seeded: batch b
    /// draws from stream b of `seed`. Equals the GGN in expectation (Martens 2014, section 9.2).
    public func monteCarloFisherVectorProduct(at theta: Tensor<Scalar>, _ v: Tensor<Scalar>, seed: UInt64, samples: Int = 1) -> Tensor<Scalar> {
        monteCarloFisherBlockProduct(at: theta, [v], seed: seed, samples: samples)[0]
    }

    /// ``monteCarloFisherVectorProduct(at:_:seed:samples:)`` for each of `vectors`: every vector sees the same
    /// sampled targets, drawn once per batch.
    public func monteCarloFisherBlockProduct(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>], seed: UInt64,
                                             samples: Int = 1) -> [Tensor<Scalar>] {
        precondition(samples >= 1, "Monte-Carlo Fisher needs at least one sample")
        return outputSpaceBlockProduct(at: theta, vectors, .monteCarloFisher(seed: seed, samples: samples))
    }

    /// `J^T M_b J v` for each vector, summed over the batches with their weights, M_b the output-space factor
    /// `weighting` makes of batch b. Each batch's forward pass is recorded once under a linearization; per vector,
    /// `J v` replays its tangent rules and `J^T` is one backward pass through it.
    func outputSpaceBlockProduct(at theta: Tensor<Scalar>, _ vectors: [Tensor<Scalar>], _ weighting: OutputWeighting) -> [Tensor<Scalar>] {
        blockProduct(vectors) { batch, index in recordedOutputs(at: theta, on: batch, index: index, weighting) }
    }

    /// Every batch's outputs at `theta`, recorded under its own linearization with its output-space factor.
    func recordedOutputs(at theta: Tensor<Scalar>, _ weighting: OutputWeighting) -> [RecordedOutputs<Scalar>] {
        weightedBatches.enumerated().map { recordedOutputs(at: theta, on: $1, index: $0, weighting) }
    }

    func recordedOutputs(at theta: Tensor<Scalar>, on batch: (weight: Scalar, data: Dataset<Scalar>), index: Int,
                         _ weighting: OutputWeighting) -> RecordedOutputs<Scalar> {
        let linearization = Linearization<Scalar>()
        let (variables, outputs) = linearization.recording {
            let (variables, scope) = leaves(theta, linearization: linearization)
            return (variables, model(batch.data, scope))
        }
        return RecordedOutputs(weight: batch.weight, linearization: linearization, variables: variables, outputs: outputs,
                               factor: outputFactor(weighting, outputs.value, batch.data, index))
    }

    /// The map `u -> M_b u` of batch `index` with outputs `outputs`: the loss's Hessian with respect to the outputs
    /// (GGN), or the Fisher's sum of outer products of per-sample output gradients, at the observed or drawn targets.
    func outputFactor(_ weighting: OutputWeighting, _ outputs: Tensor<Scalar>, _ batch: Dataset<Scalar>,
                      _ index: Int) -> (Tensor<Scalar>) -> Tensor<Scalar> {
        switch weighting {
        case .ggn:
            return { [loss] jv in
                let z = Variable.differentiable(outputs, tangent: jv)
                return Self.tangent(of: gradients(of: loss(z, batch.targets), withRespectTo: [z])[0])
            }
        case .empiricalFisher:
            let g = outputGradients(outputs, batch.targets)
            return { jv in Self.fisherWeighting([g], jv) }
        case .monteCarloFisher(let seed, let samples):
            var random = SeededRandom(seed: seed, stream: UInt64(index))
            let draws = (0..<samples).map { _ in outputGradients(outputs, loss.sampledTargets(outputs, using: &random)) }
            return { jv in Self.fisherWeighting(draws, jv) }
        }
    }

    /// The rows `grad_z l_i` of the per-sample losses' output gradients: l_i depends only on z_i, so the gradient of
    /// `sum_i l_i` has them as its rows.
    func outputGradients(_ outputs: Tensor<Scalar>, _ targets: Targets<Scalar>) -> Tensor<Scalar> {
        let z = Variable.differentiable(outputs)
        return gradients(of: loss.perSample(z, targets).sum(), withRespectTo: [z])[0].value
    }

    /// `(1/S) sum_s (1/n) sum_i (g_si . t_i) g_si` for the output gradients `g_s` of S target draws: the Fisher's
    /// output-space factor applied to the tangent `t = J v`.
    static func fisherWeighting(_ draws: [Tensor<Scalar>], _ jv: Tensor<Scalar>) -> Tensor<Scalar> {
        let n = jv.shape[0], width = jv.count / max(1, n), t = jv.scalars
        let scale = 1 / (Scalar(n) * Scalar(draws.count))
        var weighted = [Scalar](repeating: 0, count: jv.count)
        for draw in draws {
            let g = draw.scalars
            for i in 0..<n {
                var s: Scalar = 0
                for c in 0..<width { s += g[i * width + c] * t[i * width + c] }
                for c in 0..<width { weighted[i * width + c] += scale * s * g[i * width + c] }
            }
        }
        return Tensor(shape: jv.shape, scalars: weighted)
    }
}


extension Objective {
    /// The loss and, for classification losses, the fraction of correctly predicted samples or tokens (over those not
    /// ignored), at the current point (all of
    /// `parameters` and `buffers`), over the scope: one forward pass per batch, no tape.
    public func evaluate() -> (loss: Scalar, accuracy: Double?) {
        var total: Scalar = 0
        var correct = 0, counted = 0
        for batch in weightedBatches {
            let outputs = model(batch.data, constantScope())
            total += batch.weight * loss(outputs, batch.data.targets).value.scalars[0]
            if let predictions = loss.correctPredictions(outputs.value, batch.data.targets) {
                correct += predictions.correct
                counted += predictions.counted
            }
        }
        guard let share else { return (total, counted > 0 ? Double(correct) / Double(counted) : nil) }
        let sums = share.sums.sum([Double(total), Double(correct), Double(counted)])
        return (Scalar(sums[0]), sums[2] > 0 ? sums[1] / sums[2] : nil)
    }
}

/// One batch's forward and backward passes at a point, recorded under a linearization with the batch's weight: the
/// Hessian times `v` at that point is the gradient's tangent when the parameters carry `v`, and replaying the recorded
/// tangent rules gives it without recomputing any value (Pearlmutter 1994, forward-over-reverse).
struct RecordedGradient<Scalar: TensorScalar>: RecordedBatch, @unchecked Sendable {
    // @unchecked: built once, then only read; `Linearization.replay` does not change the recording.
    let weight: Scalar
    let linearization: Linearization<Scalar>
    let variables: [Variable<Scalar>]
    let gradient: [Variable<Scalar>]

    /// This batch's `H v`.
    func product(_ v: Tensor<Scalar>) -> Tensor<Scalar> {
        let tangents = Objective<Scalar>.split(v, like: variables).map(\.value)
        return Tensor(concatenating: linearization.replay(leaves: Array(zip(variables, tangents)), outputs: gradient))
    }
}

/// One batch of a curvature matrix, recorded at a point with the batch's weight: its share of the matrix's product
/// with any vector, without recomputing a value.
protocol RecordedBatch<Scalar>: Sendable {
    associatedtype Scalar: TensorScalar
    var weight: Scalar { get }
    func product(_ v: Tensor<Scalar>) -> Tensor<Scalar>
}

/// The output-space factor M of a matrix `J^T M J` (``Objective/outputSpaceBlockProduct(at:_:_:)``).
enum OutputWeighting: Sendable {
    case ggn, empiricalFisher
    case monteCarloFisher(seed: UInt64, samples: Int)
}

/// One batch's forward pass at a point, recorded under a linearization, with its output-space factor M_b: the batch's
/// `J^T M_b J v` is a replay of the tangent rules (`J v`), M_b, and one backward pass through the recorded outputs.
struct RecordedOutputs<Scalar: TensorScalar>: RecordedBatch, @unchecked Sendable {
    // @unchecked: built once, then only read; the replay and the backward pass do not change the recording.
    let weight: Scalar
    let linearization: Linearization<Scalar>
    let variables: [Variable<Scalar>]
    let outputs: Variable<Scalar>
    let factor: (Tensor<Scalar>) -> Tensor<Scalar>

    /// This batch's `J^T M_b J v`.
    func product(_ v: Tensor<Scalar>) -> Tensor<Scalar> {
        let tangents = Objective<Scalar>.split(v, like: variables).map(\.value)
        let jv = linearization.replay(leaves: Array(zip(variables, tangents)), outputs: [outputs])[0]
        return Objective<Scalar>.flatten(gradients(of: outputs.dot(Variable(factor(jv))), withRespectTo: variables))
    }
}

import Foundation
import LinearAlgebra
import Testing
@testable import Autodiff
@testable import NeuralNetworks

func gaussian(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
    var random = SeededRandom(seed: seed)
    return Tensor.gaussian(shape: shape, using: &random)
}

/// A dense matrix from a matrix-vector product, column by column.
func dense(_ dimension: Int, _ product: (Tensor<Double>) -> Tensor<Double>) -> [[Double]] {
    var columns: [[Double]] = []
    for j in 0..<dimension {
        var e = Tensor<Double>(zeros: [dimension])
        e[j] = 1
        columns.append(product(e).scalars)
    }
    return (0..<dimension).map { i in (0..<dimension).map { j in columns[j][i] } }
}

func maxDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
    zip(a, b).flatMap { zip($0, $1).map { Swift.abs($0 - $1) } }.max() ?? 0
}

func classification(samples: Int, features: Int, classes: Int, seed: UInt64) -> Dataset<Double> {
    var random = SeededRandom(seed: seed)
    return Dataset(inputs: gaussian([samples, features], seed: seed),
                   targets: .labels((0..<samples).map { _ in Int(random.next() % UInt64(classes)) }))
}

@Suite struct ParameterTests {
    @Test func pytorchNamesFlatteningAndSubsets() throws {
        let model = Sequential(Linear(4, 3), Activation.tanh, Linear(3, 2))
        let parameters: ParameterSet<Double> = model.makeParameters(seed: 1)
        #expect(parameters.names == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(model.parameterShapes.map(\.shape) == [[3, 4], [3], [2, 3], [2]])
        #expect(parameters.dimension() == 23)
        let bound = 1 / 4.0.squareRoot()
        #expect(parameters["0.weight"]!.scalars.allSatisfy { Swift.abs($0) <= bound })
        let vector = parameters.flattened()
        #expect(parameters.replacing(with: vector) == parameters)
        let subset = try parameters.names(matching: "^2\\.")
        #expect(subset == ["2.weight", "2.bias"])
        let replaced = parameters.replacing(subset, with: Tensor(repeating: 7, shape: [8]))
        #expect(replaced["2.bias"]!.scalars == [7, 7] && replaced["0.bias"] == parameters["0.bias"])
    }
}

@Suite struct ClosedFormHessianTests {
    @Test func meanSquaredErrorOfALinearModel() {
        // H = (2 / (N C)) I_C (x) X^T X, W (C, in) flattened row-major.
        let (n, features, outputs) = (10, 3, 2)
        let x = gaussian([n, features], seed: 2)
        let data = Dataset(inputs: x, targets: .values(gaussian([n, outputs], seed: 3)))
        let model = Linear(features, outputs, bias: false)
        let objective = Objective(model: model, parameters: model.makeParameters(seed: 4), loss: .meanSquaredError, data: data)
        let h = dense(objective.dimension) { objective.hessianVectorProduct(at: objective.point, $0) }
        let xtx = matmul(x, x, transposeA: true)
        let expected = (0..<6).map { r in (0..<6).map { c in
            r / 3 == c / 3 ? 2 / Double(n * outputs) * xtx[r % 3, c % 3] : 0
        } }
        #expect(maxDifference(h, expected) < 1e-10)
    }

    @Test func logisticRegression() {
        // L(w) = mean(softplus(X w) - y X w): H = (1/N) X^T diag(s (1 - s)) X.
        let (n, features) = (12, 4)
        let x = gaussian([n, features], seed: 5)
        let y = Tensor<Double>((0..<n).map { Double($0 % 2) }).reshaped([n, 1])
        let w0 = gaussian([features, 1], seed: 6)
        func hvp(_ v: Tensor<Double>) -> Tensor<Double> {
            let w = Variable.differentiable(w0)
            let z = Variable.matmul(Variable(x), w)
            let loss = (z.softplus() - Variable(y) * z).mean()
            let g = gradients(of: loss, withRespectTo: [w], createGraph: true)[0]
            return gradients(of: g.dot(Variable(v.reshaped([features, 1]))), withRespectTo: [w])[0].value.reshaped([features])
        }
        let h = dense(features, hvp)
        let s = matmul(x, w0).scalars.map { 1 / (1 + Foundation.exp(-$0)) }
        let expected = (0..<features).map { i in (0..<features).map { j in
            (0..<n).reduce(0.0) { $0 + x[$1, i] * s[$1] * (1 - s[$1]) * x[$1, j] } / Double(n)
        } }
        #expect(maxDifference(h, expected) < 1e-10)
    }

    @Test func softmaxCrossEntropyOfALinearModelWithBias() {
        // H = (1/N) sum_i (diag p_i - p_i p_i^T) (x) x~_i x~_i^T, x~ = [x, 1]; our coordinates are W then b.
        let (n, features, classes) = (9, 3, 4)
        let data = classification(samples: n, features: features, classes: classes, seed: 7)
        let model = Linear(features, classes)
        let parameters: ParameterSet<Double> = model.makeParameters(seed: 8)
        let objective = Objective(model: model, parameters: parameters, loss: .crossEntropy, data: data)
        let h = dense(objective.dimension) { objective.hessianVectorProduct(at: objective.point, $0) }
        let logits = model(data.inputs, parameters: parameters)
        // Coordinate of (class c, extended feature i): weights first, then biases.
        func coordinate(_ c: Int, _ i: Int) -> Int { i < features ? c * features + i : classes * features + c }
        var expected = [[Double]](repeating: [Double](repeating: 0, count: objective.dimension), count: objective.dimension)
        for sample in 0..<n {
            let row = (0..<classes).map { logits[sample, $0] }
            let top = row.max()!
            let total = row.reduce(0) { $0 + Foundation.exp($1 - top) }
            let p = row.map { Foundation.exp($0 - top) / total }
            let extended = (0..<features).map { data.inputs[sample, $0] } + [1]
            for c in 0..<classes { for d in 0..<classes { for i in 0...features { for j in 0...features {
                let a = (c == d ? p[c] : 0) - p[c] * p[d]
                expected[coordinate(c, i)][coordinate(d, j)] += a * extended[i] * extended[j] / Double(n)
            } } } }
        }
        #expect(maxDifference(h, expected) < 1e-10)
    }
}

@Suite struct CurvatureProductTests {
    let data = classification(samples: 20, features: 3, classes: 3, seed: 9)
    let model = Sequential(Linear(3, 5), Activation.tanh, Linear(5, 3))

    func objective(batchSize: Int = 256) -> Objective<Double> {
        Objective(model: model, parameters: model.makeParameters(seed: 10), loss: .crossEntropy, data: data, batchSize: batchSize)
    }

    @Test func gradientMatchesFiniteDifferencesOfTheLoss() {
        let f = objective(batchSize: 7)
        let (_, g) = f.lossAndGradient(at: f.point)
        for j in [0, 5, 13, 20, 37] {
            var plus = f.point, minus = f.point
            plus[j] += 1e-6
            minus[j] -= 1e-6
            #expect(Swift.abs(g[j] - (f.lossValue(at: plus) - f.lossValue(at: minus)) / 2e-6) < 1e-8)
        }
    }

    @Test func denseHessianOfAnMLPIsSymmetric() {
        let f = objective()
        let h = dense(f.dimension) { f.hessianVectorProduct(at: f.point, $0) }
        let transposed = (0..<f.dimension).map { i in (0..<f.dimension).map { h[$0][i] } }
        let norm = h.flatMap { $0 }.map(Swift.abs).max()!
        #expect(maxDifference(h, transposed) <= 1e-12 * norm)
    }

    @Test func fullDataProductsDoNotDependOnTheBatchSize() {
        let v = gaussian([objective().dimension], seed: 11)
        let reference = objective(batchSize: 20)
        let hv = reference.hessianVectorProduct(at: reference.point, v)
        let gv = reference.ggnVectorProduct(at: reference.point, v)
        let fv = reference.empiricalFisherVectorProduct(at: reference.point, v)
        for size in [1, 3, 7] {
            let f = objective(batchSize: size)
            #expect((f.hessianVectorProduct(at: f.point, v) - hv).maxAbsolute() < 1e-12 * hv.maxAbsolute())
            #expect((f.ggnVectorProduct(at: f.point, v) - gv).maxAbsolute() < 1e-12 * gv.maxAbsolute())
            #expect((f.empiricalFisherVectorProduct(at: f.point, v) - fv).maxAbsolute() < 1e-12 * fv.maxAbsolute())
            #expect(Swift.abs(f.lossValue(at: f.point) - reference.lossValue(at: reference.point)) < 1e-13)
        }
    }

    @Test func blockProductEqualsSingleProducts() {
        let f = objective(batchSize: 6)
        let vectors = (0..<4).map { gaussian([f.dimension], seed: 20 + UInt64($0)) }
        let block = f.hessianBlockProduct(at: f.point, vectors)
        for (v, hv) in zip(vectors, block) { #expect((f.hessianVectorProduct(at: f.point, v) - hv).maxAbsolute() < 1e-13) }
    }

    @Test func everyCurvatureOperatorsBlockEqualsItsSingleProducts() {
        let f = objective(batchSize: 6)
        let vectors = (0..<3).map { gaussian([f.dimension], seed: 30 + UInt64($0)) }
        for matrix in CurvatureMatrix.allCases {
            let op = f.curvature(matrix, seed: 8, samples: 2)
            #expect(op.dimension == f.dimension)
            let block = op.apply(block: vectors)
            for (v, product) in zip(vectors, block) {
                #expect((op.apply(v) - product).maxAbsolute() < 1e-13 * product.maxAbsolute(), "\(matrix)")
            }
        }
        // The operators are the objective's products at the point they were made at.
        let v = vectors[0]
        #expect((GGNOperator(f).apply(v) - f.ggnVectorProduct(at: f.point, v)).maxAbsolute() < 1e-13)
        #expect((EmpiricalFisherOperator(f).apply(v) - f.empiricalFisherVectorProduct(at: f.point, v)).maxAbsolute() < 1e-13)
        #expect((HessianOperator(f).apply(v) - f.hessianVectorProduct(at: f.point, v)).maxAbsolute() < 1e-13)
    }

    @Test func monteCarloFisherIsTheEmpiricalFisherAtItsSampledTargets() {
        let f = objective(batchSize: 10)
        var labels: [Int] = []
        for (index, batch) in data.batches(of: 10).enumerated() {
            var random = SeededRandom(seed: 9, stream: UInt64(index))
            let outputs = model(batch.inputs, parameters: f.parameters)
            guard case .labels(let drawn) = Loss.crossEntropy.sampledTargets(outputs, using: &random) else {
                Issue.record("cross-entropy draws labels")
                return
            }
            labels += drawn
        }
        var sampled = f
        sampled.data = Dataset(inputs: data.inputs, targets: .labels(labels))
        #expect(Targets<Double>.labels(labels) != data.targets, "the draws differ from the observed labels")
        let v = gaussian([f.dimension], seed: 19)
        let expected = EmpiricalFisherOperator(sampled).apply(v)
        #expect((MonteCarloFisherOperator(f, seed: 9).apply(v) - expected).maxAbsolute() < 1e-13 * expected.maxAbsolute())
    }

    @Test func ggnEqualsTheHessianForModelsLinearInTheirParameters() {
        for (loss, targets) in [(Loss.crossEntropy, data.targets), (.meanSquaredError, Targets.values(gaussian([20, 3], seed: 12)))] {
            let linear = Linear(3, 3)
            let f = Objective(model: linear, parameters: linear.makeParameters(seed: 13), loss: loss,
                              data: Dataset(inputs: data.inputs, targets: targets), batchSize: 8)
            let h = dense(f.dimension) { f.hessianVectorProduct(at: f.point, $0) }
            let g = dense(f.dimension) { f.ggnVectorProduct(at: f.point, $0) }
            #expect(maxDifference(h, g) < 1e-10, "\(loss)")
        }
    }

    @Test func ggnIsPositiveSemidefiniteAndSymmetric() throws {
        let f = objective(batchSize: 8)
        let g = dense(f.dimension) { f.ggnVectorProduct(at: f.point, $0) }
        let values = try symmetricEigen(Tensor(rows: g), computeVectors: false).values
        #expect(values.first! >= -1e-12 * values.last!)
        let transposed = (0..<f.dimension).map { i in (0..<f.dimension).map { g[$0][i] } }
        #expect(maxDifference(g, transposed) < 1e-12 * values.last!)
        // And the MLP's Hessian is not the GGN: the residual term is there.
        let h = dense(f.dimension) { f.hessianVectorProduct(at: f.point, $0) }
        #expect(maxDifference(h, g) > 1e-6)
    }

    @Test func jacobianProductsAreAdjointAndMatchFiniteDifferences() {
        let f = objective()
        let v = gaussian([f.dimension], seed: 14)
        let u = gaussian([20, 3], seed: 15)
        let jv = f.jacobianVectorProduct(at: f.point, v, on: data)
        let jtu = f.vectorJacobianProduct(at: f.point, u, on: data)
        #expect(Swift.abs(jv.dot(u) - jtu.dot(v)) < 1e-12 * Swift.abs(jv.dot(u)))
        let h = 1e-6
        let outputs = { (theta: Tensor<Double>) in self.model(self.data.inputs, parameters: f.parameters.replacing(with: theta)) }
        let numeric = (outputs(f.point + h * v) - outputs(f.point - h * v)) * (1 / (2 * h))
        #expect((numeric - jv).maxAbsolute() < 1e-7)
    }

    @Test func empiricalFisherIsTheMeanOfPerSampleGradientOuterProducts() {
        let f = objective(batchSize: 5)
        let v = gaussian([f.dimension], seed: 16)
        var expected = Tensor<Double>(zeros: [f.dimension])
        for i in 0..<20 {
            var single = f
            single.batchSize = 1
            single.scope = .batch(i)
            let g = single.lossAndGradient(at: f.point).gradient
            expected.addScaled(g, by: g.dot(v) / 20)
        }
        #expect((f.empiricalFisherVectorProduct(at: f.point, v) - expected).maxAbsolute() < 1e-13)
    }

    @Test func monteCarloFisherIsSeededAndApproachesTheGGN() {
        let f = objective(batchSize: 10)
        let v = gaussian([f.dimension], seed: 17)
        let a = f.monteCarloFisherVectorProduct(at: f.point, v, seed: 3)
        #expect(a == f.monteCarloFisherVectorProduct(at: f.point, v, seed: 3))
        #expect(a != f.monteCarloFisherVectorProduct(at: f.point, v, seed: 4))
        let many = f.monteCarloFisherVectorProduct(at: f.point, v, seed: 5, samples: 400)
        let ggn = f.ggnVectorProduct(at: f.point, v)
        #expect((many - ggn).norm() < 0.1 * ggn.norm())
    }

    @Test func aParameterSubsetGivesTheMatchingHessianBlock() throws {
        let full = objective()
        var last = full
        last.parameterNames = try full.parameters.names(matching: "^2\\.")
        #expect(last.dimension == 18 && full.dimension == 38)
        let h = dense(full.dimension) { full.hessianVectorProduct(at: full.point, $0) }
        let block = dense(last.dimension) { last.hessianVectorProduct(at: last.point, $0) }
        let offset = full.dimension - last.dimension  // "2.*" come last in the parameter order
        let expected = (0..<18).map { i in (0..<18).map { h[offset + i][offset + $0] } }
        #expect(maxDifference(block, expected) < 1e-12)
    }

    @Test func floatAgreesWithDouble() {
        let f = objective()
        let single = Objective<Float>(model: model, parameters: model.makeParameters(seed: 10), loss: .crossEntropy,
                                      data: Dataset(inputs: data.inputs.converted(to: Float.self), targets: .labels({
                                          if case .labels(let l) = data.targets { return l } else { return [] } }())))
        let v = gaussian([f.dimension], seed: 18)
        let hv = f.hessianVectorProduct(at: f.point, v)
        let hvFloat = single.hessianVectorProduct(at: single.point, v.converted(to: Float.self)).converted(to: Double.self)
        #expect((hv - hvFloat).maxAbsolute() < 1e-4 * hv.maxAbsolute())
    }
}

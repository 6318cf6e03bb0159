import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LinearAlgebra
import ModelFormats
import ModelImport
import NeuralNetworks
import Reporting
import Testing
@testable import Landscape

@Suite struct DirectionTests {
    func weights() -> [NamedTensor] {
        var random = SeededRandom(seed: 1)
        return [
            NamedTensor(name: "conv.weight", tensor: .gaussian(shape: [4, 3, 2, 2], using: &random), outputAxis: 0),
            NamedTensor(name: "conv.bias", tensor: .gaussian(shape: [4], using: &random)),
            NamedTensor(name: "keras.kernel", tensor: .gaussian(shape: [6, 5], using: &random), outputAxis: 1),
            NamedTensor(name: "fc.weight", tensor: .gaussian(shape: [5, 6], using: &random), outputAxis: 0),
        ]
    }

    /// Norms of the slices along `axis`.
    func sliceNorms(_ t: Tensor<Double>, axis: Int) -> [Double] {
        let moved = axis == 0 ? t : t.transposed()  // rank 2 only when axis != 0
        let rows = moved.shape[0], width = moved.count / rows
        return (0..<rows).map { r in moved.scalars[r * width..<(r + 1) * width].reduce(0) { $0 + $1 * $1 }.squareRoot() }
    }

    @Test func filterNormalisedSlicesHaveTheNormsOfTheirWeightSlices() {
        let w = weights()
        let d = Directions.normalized(Directions.gaussian(like: w, seed: 9), to: w, by: .filter, lowRank: .ignore)
        for (direction, weight) in zip(d, w) where weight.tensor.rank > 1 {
            let expected = sliceNorms(weight.tensor, axis: weight.outputAxis), found = sliceNorms(direction.tensor, axis: weight.outputAxis)
            // Li et al.'s +1e-10 in the denominator leaves a relative error of about 1e-10 / ||d_f||.
            for (a, b) in zip(found, expected) { #expect(abs(a - b) < 1e-9 * b, "\(weight.name)") }
        }
        #expect(d[1].tensor == Tensor(zeros: [4]))
        // The output axis matters: Keras' (in, out) kernel sliced along rows would give other norms.
        #expect(zip(sliceNorms(d[2].tensor.transposed(), axis: 1), sliceNorms(w[2].tensor.transposed(), axis: 1)).contains { abs($0 - $1) > 1e-6 })
    }

    @Test func lowRankPoliciesAndOtherNormalisations() {
        let w = weights()
        let g = Directions.gaussian(like: w, seed: 9)
        #expect(Directions.normalized(g, to: w, by: .filter, lowRank: .copy)[1].tensor == w[1].tensor)
        #expect(abs(Directions.normalized(g, to: w, by: .layer, lowRank: .normalize)[1].tensor.norm() - w[1].tensor.norm()) < 1e-9 * w[1].tensor.norm())
        let layer = Directions.normalized(g, to: w, by: .layer)
        #expect(abs(layer[3].tensor.norm() - w[3].tensor.norm()) < 1e-9 * w[3].tensor.norm())
        let model = Directions.normalized(g, to: w, by: .model)
        #expect(abs(Directions.norm(of: model) - Directions.norm(of: w)) < 1e-9)
        #expect(Directions.normalized(g, to: w, by: .weight)[0].tensor == g[0].tensor * w[0].tensor)
        #expect(Directions.normalized(g, to: w, by: .none) == g)
    }

    @Test func gramSchmidtKeepsTheNormAndRemovesTheOverlap() {
        let w = weights()
        let first = Directions.gaussian(like: w, seed: 2), second = Directions.gaussian(like: w, seed: 3)
        let orthogonal = Directions.orthogonalized(second, against: first)
        let overlap = zip(orthogonal, first).reduce(0) { $0 + $1.0.tensor.dot($1.1.tensor) }
        #expect(abs(overlap) < 1e-12 * Directions.norm(of: first) * Directions.norm(of: second))
        #expect(abs(Directions.norm(of: orthogonal) - Directions.norm(of: second)) < 1e-12)
    }
}

@Suite struct GridTests {
    @Test func nonSquareGridsKeepTheirAxisOrder() throws {
        var grid = LandscapeGrid(x: linspace(0, 2, count: 3), y: linspace(10, 20, count: 2), quantities: ["loss"])
        try grid.fill { a, b in [a + 100 * b] }
        #expect(grid.loss == [1000, 1001, 1002, 2000, 2001, 2002])
        #expect(grid.shape == [2, 3])
        #expect(linspace(-1, 1, count: 51).first == -1 && linspace(-1, 1, count: 51).last == 1 && linspace(-1, 1, count: 51)[25] == 0)
        // The JSON nests [ny][nx] and reads back.
        let json = try JSONEncoder().encode(grid)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect((object["loss"] as? [[Double]]) == [[1000, 1001, 1002], [2000, 2001, 2002]])
        #expect(try JSONDecoder().decode(LandscapeGrid.self, from: json).isIdentical(to: grid))
    }

    @Test func resumedShardedAndParallelGridsEqualAOneShotGridBitForBit() throws {
        let f: @Sendable (Double, Double) -> [Double] = { a, b in [sin(3 * a) * cos(b) + a * b / 7, (a + b).magnitude] }
        var oneShot = LandscapeGrid(x: linspace(-1, 1, count: 9), y: linspace(-1, 0.5, count: 4))
        try oneShot.fill(evaluate: f)
        #expect(oneShot.missing.isEmpty)
        // Interrupted after 10 points, then resumed.
        var partial = LandscapeGrid(x: oneShot.x, y: oneShot.y)
        struct Stop: Error {}
        var snapshots: [LandscapeGrid] = []
        do {
            try partial.fill(evaluate: f) { grid in
                snapshots.append(grid)
                if snapshots.count == 10 { throw Stop() }
            }
        } catch is Stop {}
        var resumed = snapshots.last!
        #expect(resumed.missing.count == oneShot.pointCount - 10)
        try resumed.fill(evaluate: f)
        #expect(resumed.isIdentical(to: oneShot))
        // Three shards on three "machines", merged.
        let shards = try (0..<3).map { index -> LandscapeGrid in
            var shard = LandscapeGrid(x: oneShot.x, y: oneShot.y)
            try shard.fill(shard: (index, 3), evaluate: f)
            return shard
        }
        #expect(shards.allSatisfy { $0.missing.count == 24 })
        #expect(try LandscapeGrid.merged(shards).isIdentical(to: oneShot))
        #expect(throws: LandscapeError.gridsDiffer) { try LandscapeGrid.merged([oneShot, LandscapeGrid(x: [0])]) }
        // Three workers at a time.
        var parallel = LandscapeGrid(x: oneShot.x, y: oneShot.y)
        try parallel.fill(workers: 3, evaluate: f)
        #expect(parallel.isIdentical(to: oneShot))
    }
}

/// A linear model with exactly fitting targets under MSE: the loss is the quadratic 1/2 (theta - theta*)^T H
/// (theta - theta*), zero at the centre.
func quadraticObjective() -> Objective<Double> {
    var random = SeededRandom(seed: 5)
    let model = Linear(4, 2)
    let parameters: ParameterSet<Double> = model.makeParameters(seed: 1)
    let inputs = Tensor<Double>.gaussian(shape: [40, 4], using: &random)
    let weight = parameters["weight"]!, bias = parameters["bias"]!
    var scalars = matmul(inputs, weight, transposeB: true).scalars
    for r in 0..<40 { for c in 0..<2 { scalars[r * 2 + c] += bias.scalars[c] } }
    let targets = Tensor(shape: [40, 2], scalars: scalars)
    return Objective(model: model, parameters: parameters, loss: .meanSquaredError,
                     data: Dataset(inputs: inputs, targets: .values(targets)), batchSize: 16)
}

@Suite struct SliceTests {
    @Test func aQuadraticAlongItsHessianAxesIsHalfLambdaASquaredPlusHalfLambdaBSquared() throws {
        let objective = quadraticObjective()
        let weights = LandscapeAxes.namedTensors(objective.parameters)
        let axes = LandscapeAxes.hessian(objective, weights: weights, count: 2, pair: .top, seed: 3, normalization: .none, lowRank: .ignore)
        // The dense Hessian's top two eigenvalues.
        let dense = try symmetricEigen(denseHessian(objective))
        #expect(abs(axes.eigenvalues[0] - dense.values.last!) < 1e-8 * dense.values.last!)
        #expect(abs(axes.eigenvalues[1] - dense.values[dense.values.count - 2]) < 1e-8 * dense.values.last!)
        #expect(axes.norms.allSatisfy { abs($0 - 1) < 1e-12 })
        let slice = LandscapeSlice(objective: objective, directions: axes.directions)
        var grid = LandscapeGrid(x: linspace(-1, 1, count: 5), y: linspace(-2, 2, count: 3), quantities: slice.quantities)
        try grid.fill(workers: 2, evaluate: slice.evaluate)
        for index in 0..<grid.pointCount {
            let (a, b) = grid.coordinates(index)
            let expected = 0.5 * (axes.eigenvalues[0] * a * a + axes.eigenvalues[1] * b * b)
            #expect(abs(grid.loss[index] - expected) < 1e-9 * max(1, expected), "(\(a), \(b))")
        }
        let accuracy = try #require(grid["accuracy"])
        #expect(accuracy.allSatisfy { $0.isNaN })
        // (lambda_max, lambda_min): the second axis is the smallest eigenvalue's.
        let extremes = LandscapeAxes.hessian(objective, weights: weights, count: 2, pair: .extremes, seed: 3, normalization: .none, lowRank: .ignore)
        #expect(abs(extremes.eigenvalues[1] - dense.values[0]) < 1e-7 * dense.values.last!)
    }

    func denseHessian(_ objective: Objective<Double>) -> Tensor<Double> {
        let n = objective.dimension
        var columns: [Double] = []
        for i in 0..<n {
            var e = Tensor<Double>(zeros: [n])
            e[i] = 1
            columns += objective.hessianVectorProduct(at: objective.point, e).scalars
        }
        return Tensor(shape: [n, n], scalars: columns)
    }

    @Test func theEigenvalueMapOfAQuadraticIsItsConstantExtremes() throws {
        let objective = quadraticObjective()
        let weights = LandscapeAxes.namedTensors(objective.parameters)
        let axes = LandscapeAxes.random(weights: weights, count: 1, seed: 4, normalization: .filter, lowRank: .copy, orthogonalize: false)
        let slice = LandscapeSlice(objective: objective, directions: axes.directions, eigenvalueMap: .init(tolerance: 1e-10, maxMatvecs: 60))
        #expect(slice.quantities == ["loss", "accuracy", "lambda_max", "lambda_min"])
        let dense = try symmetricEigen(denseHessian(objective))
        for a in [-1.0, 0.5] {
            let values = slice.evaluate(a, 0)
            #expect(abs(values[2] - dense.values.last!) < 1e-8 * dense.values.last! && abs(values[3] - dense.values[0]) < 1e-8 * dense.values.last!)
        }
    }

    @Test func interpolationMovesTheBatchNormBuffersWithTheWeights() throws {
        let model = Sequential([Linear(3, 4), BatchNorm(4), Activation.tanh, Linear(4, 2)])
        var random = SeededRandom(seed: 8)
        let data = Dataset<Double>(inputs: .gaussian(shape: [10, 3], using: &random), targets: .labels((0..<10).map { $0 % 2 }))
        func checkpoint(_ seed: UInt64) -> Objective<Double> {
            var buffers: ParameterSet<Double> = model.makeBuffers()
            var stream = SeededRandom(seed: seed)
            for name in buffers.names where name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                buffers = buffers.setting(name, Tensor<Double>.gaussian(shape: [4], using: &stream).map { abs($0) + 0.5 })
            }
            return Objective(model: model, parameters: model.makeParameters(seed: seed), buffers: buffers, loss: .crossEntropy, data: data)
        }
        let (first, second) = (checkpoint(1), checkpoint(2))
        let named = { (o: Objective<Double>) in (LandscapeAxes.namedTensors(o.parameters), LandscapeAxes.namedTensors(o.buffers)) }
        let axes = try LandscapeAxes.interpolation(from: named(first), to: named(second))
        let slice = LandscapeSlice(objective: first, directions: axes.directions)
        let atEnd = slice.evaluate(1, 0), expected = second.evaluate()
        #expect(abs(atEnd[0] - expected.loss) < 1e-12 && atEnd[1] == expected.accuracy)
        #expect(slice.evaluate(0, 0)[0] == first.evaluate().loss)
        // Without the buffers' part the end point is not the second model.
        let weightsOnly = LandscapeSlice(objective: first, directions: [LandscapeDirection(parameters: axes.directions[0].parameters)])
        #expect(abs(weightsOnly.evaluate(1, 0)[0] - expected.loss) > 1e-6)
        #expect(throws: AxesError.self) { try LandscapeAxes.interpolation(from: named(first), to: named(first)) }
    }
}

@Suite struct AxesTests {
    func weights() -> [NamedTensor] { DirectionTests().weights() }

    func shifted(_ w: [NamedTensor], _ d1: [NamedTensor], _ a: Double, _ d2: [NamedTensor], _ b: Double) -> [NamedTensor] {
        zip(w, zip(d1, d2)).map { w, pair in NamedTensor(name: w.name, tensor: w.tensor + pair.0.tensor * a + pair.1.tensor * b, outputAxis: w.outputAxis) }
    }

    @Test func aPlaneThroughThreeModelsPlacesThemAtItsLandmarks() throws {
        let w = weights()
        let u = Directions.gaussian(like: w, seed: 1), v = Directions.gaussian(like: w, seed: 2)
        let second = shifted(w, u, 1, v, 0), third = shifted(w, u, 0.3, v, 1)
        let axes = try LandscapeAxes.plane(through: (w, []), (second, []), (third, []))
        let c = axes.landmarks[2].a
        // theta_1 + c d_1 + 1 d_2 is the third model, and the axes are orthogonal.
        let reached = shifted(w, axes.directions[0].parameters, c, axes.directions[1].parameters, 1)
        for (r, t) in zip(reached, third) { #expect((r.tensor - t.tensor).norm() < 1e-12 * max(1, t.tensor.norm())) }
        let overlap = zip(axes.directions[0].parameters, axes.directions[1].parameters).reduce(0) { $0 + $1.0.tensor.dot($1.1.tensor) }
        #expect(abs(overlap) < 1e-10 * axes.norms[0] * axes.norms[1])
        #expect(throws: AxesError.self) { try LandscapeAxes.plane(through: (w, []), (second, []), (shifted(w, u, 2, v, 0), [])) }
    }

    @Test func pcaOfATrajectoryInAPlaneRecoversItsCoordinates() throws {
        let w = weights()
        // Orthonormal u, v: the trajectory's points are final + s_t u + t_t v.
        let g1 = Directions.gaussian(like: w, seed: 5)
        let u = g1.map { NamedTensor(name: $0.name, tensor: $0.tensor * (1 / Directions.norm(of: g1)), outputAxis: $0.outputAxis) }
        let g2 = Directions.orthogonalized(Directions.gaussian(like: w, seed: 6), against: u)
        let v = g2.map { NamedTensor(name: $0.name, tensor: $0.tensor * (1 / Directions.norm(of: g2)), outputAxis: $0.outputAxis) }
        let steps: [(Double, Double)] = [(-4, 1), (-3, 0.2), (-2, -0.5), (-1, 0.1), (-0.5, 0.05)]
        let axes = try LandscapeAxes.pca(trajectory: steps.map { shifted(w, u, $0.0, v, $0.1) }, centre: w, count: 2)
        #expect(abs(axes.explainedVariance.reduce(0, +) - 1) < 1e-10 && axes.explainedVariance[0] > axes.explainedVariance[1])
        // The projections reproduce the distances between checkpoints (the plane holds them all).
        for (i, p) in steps.enumerated() {
            for (j, q) in steps.enumerated() where j > i {
                let (pi, pj) = (axes.landmarks[i], axes.landmarks[j])
                let projected = ((pi.a - pj.a) * (pi.a - pj.a) + (pi.b - pj.b) * (pi.b - pj.b)).squareRoot()
                let actual = ((p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1)).squareRoot()
                #expect(abs(projected - actual) < 1e-9)
            }
        }
        #expect(axes.landmarks.last == Landmark(name: "final", a: 0, b: 0))
        #expect(throws: AxesError.trajectoryTooShort(1)) { try LandscapeAxes.pca(trajectory: [w], centre: w, count: 2) }
    }

    @Test func directionsWrittenToAFileReadBackTheSame() throws {
        let w = weights()
        let axes = LandscapeAxes.random(weights: w, count: 2, seed: 3, normalization: .filter, lowRank: .normalize, orthogonalize: true)
        let tensors = Dictionary(uniqueKeysWithValues: axes.directionTensors.map { ($0.name, $0.tensor) })
        let read = try LandscapeAxes.file(tensors, weights: w, count: 2, normalization: .none, lowRank: .ignore)
        #expect(read.directions == axes.directions)
        var missing = tensors
        missing["y/fc.weight"] = nil
        #expect(throws: AxesError.self) { try LandscapeAxes.file(missing, weights: w, count: 2, normalization: .none, lowRank: .ignore) }
        // Random axes: stream k for axis k, so the second axis does not repeat the first.
        #expect(axes.directions[0] != axes.directions[1])
    }
}

extension AxesTests {
    /// loss-landscape's direction files: dataset i of xdirection/ydirection is the model's i-th parameter.
    @Test func aLossLandscapeDirectionFileMapsByPosition() throws {
        let w = weights()
        let d = [Directions.gaussian(like: w, seed: 7), Directions.gaussian(like: w, seed: 8)]
        var tensors: [String: Tensor<Double>] = [:]
        for (group, direction) in zip(["xdirection", "ydirection"], d) {
            for (i, t) in direction.enumerated() { tensors["\(group)/\(i)"] = t.tensor }
        }
        #expect(LandscapeAxes.isLossLandscapeFile(Array(tensors.keys)))
        let axes = try LandscapeAxes.lossLandscapeFile(tensors, weights: w, count: 2)
        #expect(axes.directions.map(\.parameters) == d)
        // A states file (buffers among the tensors), a missing y group, and parameters in another order are refused.
        var states = tensors
        states["xdirection/\(w.count)"] = Tensor(repeating: 0, shape: [3])
        #expect(throws: AxesError.directionTensor("'xdirection' holds \(w.count + 1) tensors, the model has \(w.count) parameters " +
                                                  "(a file made with --dir_type states holds BatchNorm's buffers too; make it with --dir_type weights)")) {
            try LandscapeAxes.lossLandscapeFile(states, weights: w, count: 1)
        }
        #expect(throws: AxesError.self) { try LandscapeAxes.lossLandscapeFile(tensors.filter { $0.key.hasPrefix("x") }, weights: w, count: 2) }
        var swapped = tensors
        swapped["xdirection/0"] = tensors["xdirection/1"]
        swapped["xdirection/1"] = tensors["xdirection/0"]
        do {
            _ = try LandscapeAxes.lossLandscapeFile(swapped, weights: w, count: 1)
            Issue.record("parameters out of order were accepted")
        } catch {
            #expect("\(error)".contains("not in this model's order"), "\(error)")
        }
    }
}

@Suite struct ExportTests {
    func grid(ny: Int) throws -> LandscapeGrid {
        var grid = LandscapeGrid(x: linspace(-1, 1, count: 4), y: ny > 0 ? linspace(-1, 1, count: ny) : [])
        try grid.fill { a, b in [a * a + 2 * b * b, 0.5] }
        grid.values[0][1] = .nan
        return grid
    }

    /// Element names with their attributes, and every DataArray's text, from an XML document.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(String, [String: String])] = []
        var arrays: [String: String] = [:]
        var current: String?
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
            elements.append((name, attributes))
            if name == "DataArray" { current = attributes["Name"] ?? "Points"; arrays[current!] = "" }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if let current { arrays[current]! += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { current = nil }
    }

    func parse(_ text: String) throws -> Collector {
        let collector = Collector(), parser = XMLParser(data: Data(text.utf8))
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        return collector
    }

    func numbers(_ text: String?) -> [Double] { (text ?? "").split(separator: " ").compactMap { Double($0) } }

    @Test func vtsAndVtpParseWithTheRightPointCounts() throws {
        for ny in [3, 0] {
            let g = try grid(ny: ny)
            let vts = try parse(g.vts(height: SurfaceHeight(logarithmic: true, maximum: 1.2)))
            #expect(vts.elements.first { $0.0 == "StructuredGrid" }?.1["WholeExtent"] == "0 3 0 \(max(1, ny) - 1) 0 0")
            let points = numbers(vts.arrays["Points"])
            #expect(points.count == 3 * g.pointCount)
            #expect(numbers(vts.arrays["loss"]).count == g.pointCount && numbers(vts.arrays["valid"]) == (0..<g.pointCount).map { $0 == 1 ? 0 : 1 })
            // Height log(z + 0.1), clipped at 1.2.
            #expect(abs(points[3 * 3 + 2] - min(1.2, log(g.loss[3] + 0.1))) < 1e-12)
            let vtp = try parse(g.vtp())
            let piece = try #require(vtp.elements.first { $0.0 == "Piece" }?.1)
            #expect(piece["NumberOfPoints"] == "\(g.pointCount)")
            #expect(piece[ny > 0 ? "NumberOfPolys" : "NumberOfLines"] == (ny > 0 ? "\(3 * (ny - 1))" : "1"))
            #expect(numbers(vtp.arrays["Points"]).count == 3 * g.pointCount)
            let connectivity = numbers(vtp.arrays["connectivity"]).map { Int($0) }
            #expect(ny == 0 || Array(connectivity.prefix(4)) == [0, 1, 5, 4])
        }
    }

    @Test func mergingGridsThatDisagreeOnAPointIsAConflict() throws {
        let a = try grid(ny: 2)
        var b = a
        #expect(try LandscapeGrid.merged([a, b]).isIdentical(to: a))
        b.values[0][3] += 1e-15
        #expect(throws: LandscapeError.conflict(grid: 1, quantity: "loss", a: 1, b: -1, held: a.values[0][3], found: b.values[0][3])) {
            try LandscapeGrid.merged([a, b])
        }
    }

    @Test func csvIsLongFormWithNaNForMissingPoints() throws {
        let lines = try grid(ny: 2).csv().split(separator: "\n")
        #expect(lines.first == "x,y,loss,accuracy" && lines.count == 9)
        #expect(lines[2] == "-0.33333333333333337,-1.0,nan,0.5")
        #expect(try grid(ny: 0).csv().hasPrefix("x,loss,accuracy\n-1.0,1.0,0.5\n"))
    }
}

@Suite struct LandscapeRunTests {
    let mlp = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelImportTests/Fixtures/mlp.onnx").path

    @Test func anInterruptedRunResumesToTheOneShotGridAndOtherSettingsAreRefused() throws {
        var objective = ObjectiveSettings(model: mlp, data: "digits")
        objective.dataOptions.limit = 60
        let settings = LandscapeSettings(objective: objective, axes: .random, seed: 3)
        let axes = [GridAxisRequest(count: 5), GridAxisRequest(count: 4, range: -0.5...0.5)]
        let oneShot = try LandscapeRun<Double>(settings, grid: axes).fill(workers: 2)
        #expect(oneShot.grid.missing.isEmpty && oneShot.grid.y.first == -0.5)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("grid.npz").path
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try LandscapeRun<Double>(settings, grid: axes, resume: path).fill { record in
                try record.write(to: path)
                throw Interrupted()
            }
        }
        let resumed = try LandscapeRun<Double>(settings, grid: axes, resume: path)
        #expect(resumed.pointsToDo > 0 && resumed.pointsToDo < 20)
        #expect(try resumed.fill().grid.isIdentical(to: oneShot.grid))

        var other = settings
        other.seed = 4
        #expect(throws: MessageError.self) { try LandscapeRun<Double>(other, grid: axes, resume: path) }
    }

    /// A grid whose values cannot fit is refused before the model is even loaded, with the estimate in the message.
    @Test func gridsThatCannotFitAreRefusedUpFront() throws {
        let settings = LandscapeSettings(objective: ObjectiveSettings(model: "no-such-model.onnx", data: "digits"), axes: .random)
        let memory: UInt64 = 24 << 30
        try LandscapeRun<Double>.checkFits([GridAxisRequest(count: 1001), GridAxisRequest(count: 1001)], settings: settings, memory: memory)
        do {
            try LandscapeRun<Double>.checkFits([GridAxisRequest(count: 100_000), GridAxisRequest(count: 100_000)], settings: settings, memory: memory)
            Issue.record("a 100000 x 100000 grid was accepted")
        } catch {
            #expect(error.description == "a 100000 x 100000 grid is 10000000000 points: about 596.0 GiB for its 2 quantities, " +
                                         "more than half of this machine's 24.0 GiB; use fewer points")
        }
        #expect(throws: MessageError.self) {
            try LandscapeRun<Double>(settings, grid: [GridAxisRequest(count: 3_000_000_000), GridAxisRequest(count: 3_000_000_000)])
        }
    }

    /// A surface file in loss-landscape's layout, and a run driven by a loss-landscape direction file holding the
    /// same directions, which gives the same grid bit for bit.
    @Test func surfaceFilesAndDirectionFilesInLossLandscapesLayout() throws {
        var objective = ObjectiveSettings(model: mlp, data: "digits")
        objective.dataOptions.limit = 40
        let settings = LandscapeSettings(objective: objective, axes: .random, seed: 5)
        let axes = [GridAxisRequest(count: 4), GridAxisRequest(count: 3)]
        let run = try LandscapeRun<Double>(settings, grid: axes)
        let record = try run.fill(workers: 2)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-h5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let surface = folder.appendingPathComponent("surface.h5")
        try record.write(to: surface.path)
        let file = try HDF5Archive(contentsOf: surface)
        #expect(file.descriptors.map(\.name) == ["train_acc", "train_loss", "xcoordinates", "ycoordinates"])
        #expect(try file.tensor(named: "xcoordinates").doubles() == record.grid.x)
        #expect(try file.tensor(named: "ycoordinates").doubles() == record.grid.y)
        let loss = try file.tensor(named: "train_loss")
        #expect(loss.shape == [3, 4] && loss.doubles() == record.grid.loss)
        // [j][i] is the point (x[i], y[j]): the meshgrid order loss-landscape fills.
        #expect(record.grid.coordinates(1 * 4 + 2) == (record.grid.x[2], record.grid.y[1]))

        let directions = folder.appendingPathComponent("directions.h5")
        let groups = ["x/": "xdirection", "y/": "ydirection"]
        var counters: [String: Int] = [:]
        let stored = run.directionTensors.compactMap { name, tensor -> StoredTensor? in
            guard let group = groups[String(name.prefix(2))] else { return nil }
            defer { counters[group, default: 0] += 1 }
            return StoredTensor(name: "\(group)/\(counters[group, default: 0])", tensor: tensor.converted(to: Float.self).converted(to: Double.self))
        }
        try HDF5Archive.write(stored, to: directions)
        var fromFile = settings
        fromFile.axes = .file
        fromFile.directions = directions.path
        let read = try LandscapeRun<Double>(fromFile, grid: axes).fill(workers: 2)
        // The file holds the directions rounded to float32 (as loss-landscape writes them), so the grid agrees to rounding.
        for (a, b) in zip(read.grid.loss, record.grid.loss) { #expect(abs(a - b) < 1e-5 * max(1, abs(b))) }
        #expect(Set(read.grid.loss).count == read.grid.pointCount)
    }
}

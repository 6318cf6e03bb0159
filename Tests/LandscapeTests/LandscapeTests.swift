import Foundation
import LinearAlgebra
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
    @Test func aQuadraticAlongItsEigenvectorsIsHalfLambdaASquaredPlusHalfLambdaBSquared() throws {
        var random = SeededRandom(seed: 3)
        let g = Tensor<Double>.gaussian(shape: [6, 6], using: &random)
        let a = matmul(g, g, transposeB: true)
        let eigen = try symmetricEigen(a)
        let (l1, l2) = (eigen.values[5], eigen.values[4])
        let u1 = Tensor(eigen.vectors!.row(5)), u2 = Tensor(eigen.vectors!.row(4))
        var grid = LandscapeGrid(x: linspace(-1, 1, count: 7), y: linspace(-2, 2, count: 5))
        try grid.fill { x, y in
            var theta = u1 * x
            theta.addScaled(u2, by: y)
            return (0.5 * theta.dot(matvec(a, theta)), 1)
        }
        for index in 0..<grid.pointCount {
            let (x, y) = grid.coordinates(index)
            let expected = 0.5 * (l1 * x * x + l2 * y * y)
            #expect(abs(grid.loss[index] - expected) < 1e-10 * max(1, expected))
        }
    }

    @Test func nonSquareGridsKeepTheirAxisOrder() throws {
        var grid = LandscapeGrid(x: linspace(0, 2, count: 3), y: linspace(10, 20, count: 2))
        try grid.fill { a, b in (a + 100 * b, 0) }
        #expect(grid.loss == [1000, 1001, 1002, 2000, 2001, 2002])
        #expect(linspace(-1, 1, count: 51).first == -1 && linspace(-1, 1, count: 51).last == 1 && linspace(-1, 1, count: 51)[25] == 0)
    }

    @Test func resumedAndShardedGridsEqualAOneShotGridBitForBit() throws {
        let f = { (a: Double, b: Double) in (sin(3 * a) * cos(b) + a * b / 7, (a + b).magnitude) }
        var oneShot = LandscapeGrid(x: linspace(-1, 1, count: 9), y: linspace(-1, 0.5, count: 4))
        try oneShot.fill(evaluate: f)
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
        #expect(resumed == oneShot)
        // Three shards on three "machines", merged.
        let shards = try (0..<3).map { index -> LandscapeGrid in
            var shard = LandscapeGrid(x: oneShot.x, y: oneShot.y)
            try shard.fill(shard: (index, 3), evaluate: f)
            return shard
        }
        #expect(shards.allSatisfy { !$0.missing.isEmpty })
        #expect(try LandscapeGrid.merged(shards) == oneShot)
        #expect(throws: LandscapeError.gridsDiffer) { try LandscapeGrid.merged([oneShot, LandscapeGrid(x: [0])]) }
    }
}

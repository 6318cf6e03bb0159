import Foundation
import LinearAlgebra

/// `count` equally spaced values from `lower` to `upper`, both included (NumPy's linspace).
public func linspace(_ lower: Double, _ upper: Double, count: Int) -> [Double] {
    precondition(count >= 1, "a grid axis needs at least one point")
    guard count > 1 else { return [lower] }
    return (0..<count).map { $0 == count - 1 ? upper : lower + (upper - lower) * Double($0) / Double(count - 1) }
}

/// Loss and accuracy at the points `theta0 + a d1 (+ b d2)` of a 1-D or 2-D grid.
///
/// Arrays are `[ny][nx]`, row-major, y outer: `loss[j * nx + i]` is the point `(x[i], y[j])`, whatever the grid's
/// shape (Li et al. allocate (nx, ny) but fill in meshgrid order, so their non-square grids come out transposed).
/// Points not yet computed hold NaN, so a partial grid is a valid file and a run can resume from it.
public struct LandscapeGrid: Sendable, Codable, Equatable {
    public var x: [Double]
    /// Empty for a 1-D slice.
    public var y: [Double]
    public var loss: [Double]
    public var accuracy: [Double]

    public init(x: [Double], y: [Double] = []) {
        self.x = x
        self.y = y
        let count = x.count * max(1, y.count)
        loss = [Double](repeating: .nan, count: count)
        accuracy = [Double](repeating: .nan, count: count)
    }

    public var pointCount: Int { loss.count }
    /// The grid coordinates of flat point `index`.
    public func coordinates(_ index: Int) -> (a: Double, b: Double) {
        (x[index % x.count], y.isEmpty ? 0 : y[index / x.count])
    }
    /// Flat indices of the points still NaN.
    public var missing: [Int] { loss.indices.filter { loss[$0].isNaN } }

    /// Fills the missing points (all of them with `shard` nil, else those with `index % count == shard.index`),
    /// evaluating `evaluate(a, b)`; `record` sees the grid after each point.
    public mutating func fill(
        shard: (index: Int, count: Int)? = nil, evaluate: (Double, Double) throws -> (loss: Double, accuracy: Double),
        record: (LandscapeGrid) throws -> Void = { _ in }
    ) throws {
        for index in missing where shard.map({ index % $0.count == $0.index }) ?? true {
            let (a, b) = coordinates(index)
            (loss[index], accuracy[index]) = try evaluate(a, b)
            try record(self)
        }
    }

    /// Shards of one grid combined: each point from whichever grid has it.
    public static func merged(_ grids: [LandscapeGrid]) throws -> LandscapeGrid {
        guard var result = grids.first else { throw LandscapeError.nothingToMerge }
        for grid in grids.dropFirst() {
            guard grid.x == result.x, grid.y == result.y else { throw LandscapeError.gridsDiffer }
            for index in grid.loss.indices where !grid.loss[index].isNaN {
                result.loss[index] = grid.loss[index]
                result.accuracy[index] = grid.accuracy[index]
            }
        }
        return result
    }
}

public enum LandscapeError: Error, Equatable, CustomStringConvertible {
    case nothingToMerge, gridsDiffer
    public var description: String {
        switch self {
        case .nothingToMerge: "no grids to merge"
        case .gridsDiffer: "the grids have different axes: they are not shards of one grid"
        }
    }
}

import Foundation
import LinearAlgebra

/// `count` equally spaced values from `lower` to `upper`, both included (NumPy's linspace).
public func linspace(_ lower: Double, _ upper: Double, count: Int) -> [Double] {
    precondition(count >= 1, "a grid axis needs at least one point")
    guard count > 1 else { return [lower] }
    return (0..<count).map { $0 == count - 1 ? upper : lower + (upper - lower) * Double($0) / Double(count - 1) }
}

/// Named quantities (loss, accuracy, ...) at the points `theta0 + a d1 (+ b d2)` of a 1-D or 2-D grid.
///
/// Arrays are `[ny][nx]`, row-major, y outer: `values[q][j * nx + i]` is quantity q at the point `(x[i], y[j])`,
/// whatever the grid's shape (Li et al. allocate (nx, ny) but fill in meshgrid order, so their non-square grids come
/// out transposed). Points not yet computed hold NaN in every quantity, so a partial grid is a valid file and a run
/// can resume from it; a point counts as computed once its first quantity is a number.
public struct LandscapeGrid: Sendable, Codable {
    public var x: [Double]
    /// Empty for a 1-D slice.
    public var y: [Double]
    public var quantities: [String]
    /// One array per quantity, each of `pointCount` values.
    public var values: [[Double]]

    public init(x: [Double], y: [Double] = [], quantities: [String] = ["loss", "accuracy"]) {
        precondition(!x.isEmpty && !quantities.isEmpty, "a grid needs points and quantities")
        self.x = x
        self.y = y
        self.quantities = quantities
        values = quantities.map { _ in [Double](repeating: .nan, count: x.count * max(1, y.count)) }
    }

    public var pointCount: Int { x.count * max(1, y.count) }
    /// NumPy's shape of every quantity: `[ny, nx]`, or `[nx]` for a 1-D slice.
    public var shape: [Int] { y.isEmpty ? [x.count] : [y.count, x.count] }

    /// The values of a quantity, nil when the grid has none of that name.
    public subscript(quantity: String) -> [Double]? {
        quantities.firstIndex(of: quantity).map { values[$0] }
    }

    /// The training loss.
    public var loss: [Double] { self["loss"] ?? [] }

    /// The grid coordinates of flat point `index`.
    public func coordinates(_ index: Int) -> (a: Double, b: Double) {
        (x[index % x.count], y.isEmpty ? 0 : y[index / x.count])
    }

    /// Flat indices of the points not yet computed.
    public var missing: [Int] { values[0].indices.filter { values[0][$0].isNaN } }

    /// Whether two grids hold the same numbers bit for bit (NaN included).
    public func isIdentical(to other: LandscapeGrid) -> Bool {
        func bits(_ list: [Double]) -> [UInt64] { list.map(\.bitPattern) }
        return bits(x) == bits(other.x) && bits(y) == bits(other.y) && quantities == other.quantities
            && values.map(bits) == other.values.map(bits)
    }

    /// Fills the missing points (all of them with `shard` nil, else those with `index % count == shard.index`; only
    /// those in `points` when given), `workers` points at a time in parallel, each from `evaluate(a, b)` (one value per
    /// quantity). `record` sees the grid after each round of points; an error it throws stops the run with every
    /// finished point kept.
    ///
    /// Each point is computed independently of the others, so the result does not depend on `workers`, on the
    /// shard, or on where a run was interrupted.
    public mutating func fill(
        shard: (index: Int, count: Int)? = nil, points: Set<Int>? = nil, workers: Int = 1,
        evaluate: @escaping @Sendable (Double, Double) -> [Double], record: (LandscapeGrid) throws -> Void = { _ in }
    ) throws {
        let todo = missing.filter { index in (shard.map { index % $0.count == $0.index } ?? true) && (points?.contains(index) ?? true) }
        let width = max(1, workers)
        for start in stride(from: 0, to: todo.count, by: width) {
            let round = Array(todo[start..<min(start + width, todo.count)])
            let coordinates = round.map(coordinates)
            let results = ResultSlots(count: round.count)
            if round.count == 1 {
                results.store(0, evaluate(coordinates[0].a, coordinates[0].b))
            } else {
                DispatchQueue.concurrentPerform(iterations: round.count) { slot in
                    results.store(slot, evaluate(coordinates[slot].a, coordinates[slot].b))
                }
            }
            for (slot, index) in round.enumerated() {
                let row = results.value(slot)
                precondition(row.count == quantities.count, "evaluate returned \(row.count) values for \(quantities.count) quantities")
                for q in quantities.indices { values[q][index] = row[q] }
            }
            try record(self)
        }
    }

    /// The computed points among `indices`, flattened: for each, its index then one value per quantity.
    public func packed(_ indices: [Int]) -> [Double] {
        indices.filter { !values[0][$0].isNaN }.flatMap { index in [Double(index)] + quantities.indices.map { values[$0][index] } }
    }

    /// Sets the points that ``packed(_:)`` flattened.
    public mutating func unpack(_ packed: [Double]) {
        let width = quantities.count + 1
        for start in stride(from: 0, to: packed.count - width + 1, by: width) {
            let index = Int(packed[start])
            for q in quantities.indices { values[q][index] = packed[start + 1 + q] }
        }
    }

    /// Shards of one grid combined: each point from whichever grid has it. A point two grids both hold must have the
    /// same bits in both (shards of one run compute it the same way); anything else is a conflict, not a choice.
    public static func merged(_ grids: [LandscapeGrid]) throws -> LandscapeGrid {
        guard var result = grids.first else { throw LandscapeError.nothingToMerge }
        for (position, grid) in grids.enumerated().dropFirst() {
            guard grid.x == result.x, grid.y == result.y, grid.quantities == result.quantities else { throw LandscapeError.gridsDiffer }
            for index in 0..<grid.pointCount where !grid.values[0][index].isNaN {
                let held = !result.values[0][index].isNaN
                for q in grid.quantities.indices {
                    let (old, new) = (result.values[q][index], grid.values[q][index])
                    if held, old.bitPattern != new.bitPattern {
                        let (a, b) = grid.coordinates(index)
                        throw LandscapeError.conflict(grid: position, quantity: grid.quantities[q], a: a, b: b, held: old, found: new)
                    }
                    result.values[q][index] = new
                }
            }
        }
        return result
    }
}

/// Per-slot results written from concurrent workers, each slot by exactly one.
private final class ResultSlots: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private var rows: [[Double]]
    private let lock = NSLock()

    init(count: Int) { rows = Array(repeating: [], count: count) }

    func store(_ slot: Int, _ row: [Double]) {
        lock.lock()
        defer { lock.unlock() }
        rows[slot] = row
    }

    func value(_ slot: Int) -> [Double] {
        lock.lock()
        defer { lock.unlock() }
        return rows[slot]
    }
}

public enum LandscapeError: Error, Equatable, CustomStringConvertible {
    case nothingToMerge, gridsDiffer
    /// Grid number `grid` (from 0) holds the value `found` of `quantity` at (a, b) where an earlier grid holds `held`.
    case conflict(grid: Int, quantity: String, a: Double, b: Double, held: Double, found: Double)

    public var description: String {
        switch self {
        case .nothingToMerge: "no grids to merge"
        case .gridsDiffer: "the grids have different axes or quantities: they are not shards of one grid"
        case .conflict(let grid, let quantity, let a, let b, let held, let found):
            "grid \(grid + 1) has \(quantity) \(found) at (\(a), \(b)) where an earlier one has \(held): they are not shards of one run"
        }
    }
}

/// JSON form: `x`, `y`, `quantities`, and each quantity under its own name as NumPy would nest it, `[ny][nx]` (or
/// `[nx]` in 1-D), NaN for points not computed.
extension LandscapeGrid {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }

    /// With this user-info key set to true, only the axes and quantity names are encoded (the values travel
    /// elsewhere, as in an .npz's `metadata`); decoding then leaves every point NaN.
    public static let axesOnly = CodingUserInfoKey(rawValue: "landscapeGridAxesOnly")!

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(x, forKey: Key("x"))
        try container.encode(y, forKey: Key("y"))
        try container.encode(quantities, forKey: Key("quantities"))
        guard encoder.userInfo[Self.axesOnly] as? Bool != true else { return }
        for (name, list) in zip(quantities, values) {
            if y.isEmpty {
                try container.encode(list, forKey: Key(name))
            } else {
                try container.encode((0..<y.count).map { Array(list[$0 * x.count..<($0 + 1) * x.count]) }, forKey: Key(name))
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let x = try container.decode([Double].self, forKey: Key("x")), y = try container.decode([Double].self, forKey: Key("y"))
        let quantities = try container.decode([String].self, forKey: Key("quantities"))
        guard !x.isEmpty, !quantities.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a grid needs points and quantities"))
        }
        self.init(x: x, y: y, quantities: quantities)
        for (q, name) in quantities.enumerated() where container.contains(Key(name)) {
            let rows = y.isEmpty ? [try container.decode([Double].self, forKey: Key(name))]
                : try container.decode([[Double]].self, forKey: Key(name))
            let list = rows.flatMap { $0 }
            guard list.count == pointCount, rows.allSatisfy({ $0.count == x.count }) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [Key(name)],
                                                        debugDescription: "'\(name)' does not have the grid's shape \(shape)"))
            }
            values[q] = list
        }
    }
}

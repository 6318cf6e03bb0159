import LinearAlgebra

/// Which estimator a random probe belongs to. Each has its own family of random streams, so the trace, diagonal and
/// density probes of one seed are independent, and probe i of a family is the same vector however the run is split
/// into blocks or resumed.
public enum ProbeFamily: UInt64, Sendable {
    case trace = 1, traceSketch, diagonal, diagonalSketch, density, densityBounds
}

/// The `index`-th Rademacher probe (entries +-1) of a family, drawn from its own generator seeded with
/// ``probeSeed(_:family:index:)``.
public func rademacherProbe(dimension: Int, seed: UInt64, family: ProbeFamily, index: Int) -> Tensor<Double> {
    var random = SeededRandom(seed: probeSeed(seed, family: family, index: index))
    return Tensor.rademacher(shape: [dimension], using: &random)
}

/// The seed of probe `index` of `family`: SplitMix64 applied to `seed` mixed with SplitMix64 of
/// `family << 32 | index`. (Jumped streams cost one jump per index; hashing is O(1) and as well spread.)
public func probeSeed(_ seed: UInt64, family: ProbeFamily, index: Int) -> UInt64 {
    var label = family.rawValue << 32 | UInt64(index)
    var mixed = seed ^ SeededRandom.splitMix64(&label)
    return SeededRandom.splitMix64(&mixed)
}

/// Probes `range` of a family.
func rademacherProbes(dimension: Int, seed: UInt64, family: ProbeFamily, _ range: Range<Int>) -> [Tensor<Double>] {
    range.map { rademacherProbe(dimension: dimension, seed: seed, family: family, index: $0) }
}

/// Runs probes `count` long in blocks of `blockSize`, continuing after `completed` results (one per probe) and
/// handing all results so far to `record` after every block: the checkpointing loop of every resumable estimator.
func runProbeBlocks<Result>(
    count: Int, completed: [Result], blockSize: Int, compute: (Range<Int>) throws -> [Result], record: ([Result]) throws -> Void
) throws -> [Result] {
    var results = Array(completed.prefix(count))
    while results.count < count {
        results += try compute(results.count..<min(results.count + max(1, blockSize), count))
        try record(results)
    }
    return results
}

extension LinearOperator {
    /// The products with `vectors`, `blockSize` at a time (the operator shares work within a block).
    public func apply(_ vectors: [Tensor<Double>], blockSize: Int) -> [Tensor<Double>] {
        stride(from: 0, to: vectors.count, by: max(1, blockSize)).flatMap { start in
            apply(block: Array(vectors[start..<min(start + max(1, blockSize), vectors.count)]))
        }
    }
}

/// Mean and standard error of the mean (sample standard deviation / sqrt(count)) of independent samples.
func meanAndStandardError(_ samples: [Double]) -> (mean: Double, standardError: Double) {
    let count = Double(samples.count)
    guard samples.count > 0 else { return (.nan, .nan) }
    let mean = samples.reduce(0, +) / count
    guard samples.count > 1 else { return (mean, .infinity) }
    let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
    return (mean, (variance / count).squareRoot())
}

/// The columns of an n x k matrix stored as k vectors, as a row-major n x k tensor.
func matrix(columns: [Tensor<Double>]) -> Tensor<Double> {
    let n = columns.first?.count ?? 0
    return Tensor(shape: [columns.count, n], scalars: columns.flatMap(\.scalars)).transposed()
}

/// The columns of a row-major n x k tensor.
func columns(of matrix: Tensor<Double>) -> [Tensor<Double>] {
    let transposed = matrix.transposed()
    return (0..<matrix.shape[1]).map { Tensor(transposed.row($0)) }
}

/// Solves `R^T X = I` for the upper-triangular k x k `R`: the columns of `R^{-T}`, or nil when `R` is numerically
/// singular (its smallest diagonal entry below 1e-12 of its largest).
func inverseTransposeColumns(_ r: Tensor<Double>) -> [[Double]]? {
    let k = r.shape[0]
    let diagonal = (0..<k).map { abs(r[$0, $0]) }
    guard let largest = diagonal.max(), largest > 0, diagonal.allSatisfy({ $0 > 1e-12 * largest }) else { return nil }
    // Column i of R^{-T} solves R^T x = e_i, a lower-triangular system: forward substitution.
    return (0..<k).map { i in
        var x = [Double](repeating: 0, count: k)
        for row in 0..<k {
            var sum = row == i ? 1.0 : 0.0
            for j in 0..<row { sum -= r[j, row] * x[j] }
            x[row] = sum / r[row, row]
        }
        return x
    }
}

/// Orthonormal vectors stored as the rows of one matrix, so projecting them out is two matrix-vector products.
struct OrthonormalRows {
    let dimension: Int
    private(set) var count = 0
    /// Row-major; appended in place (amortised), wrapped as a tensor without copying when used.
    private var storage: [Double] = []
    var rows: Tensor<Double> { Tensor(shape: [count, dimension], scalars: storage) }

    init(dimension: Int) { self.dimension = dimension }

    mutating func append(_ v: Tensor<Double>) {
        storage.append(contentsOf: v.scalars)
        count += 1
    }

    /// `w` minus its projection on the rows, twice (classical Gram-Schmidt twice is as stable as modified).
    func projectOut(_ w: Tensor<Double>) -> Tensor<Double> {
        guard count > 0 else { return w }
        var result = w
        for _ in 0..<2 { result = result - matvec(rows, matvec(rows, result), transpose: true) }
        return result
    }
}

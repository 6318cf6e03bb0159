import Foundation
import LinearAlgebra

/// Which end of the spectrum.
public enum SpectrumEnd: String, Sendable, Codable {
    /// Largest algebraic eigenvalues, largest first.
    case largest
    /// Smallest algebraic eigenvalues, smallest first.
    case smallest
}

/// Eigenpairs from an iterative method, with how they were obtained.
public struct EigenResult: Sendable {
    /// Largest first for `.largest`, smallest first for `.smallest`.
    public var eigenvalues: [Double]
    /// Unit eigenvectors, one per eigenvalue.
    public var eigenvectors: [Tensor<Double>]
    /// `||A v - theta v||` for each pair, computed explicitly at the end.
    public var residuals: [Double]
    /// Operator applications used.
    public var matvecs: Int
    /// Thick restarts of Lanczos (the basis cut back to its wanted Ritz vectors); 0 for solvers that do not restart.
    public var restarts: Int
    /// Whether every residual met the tolerance.
    public var converged: Bool
}

/// What Lanczos reports while it works, for a progress display.
public enum LanczosProgress: Sendable, Equatable {
    /// After a product: the products so far and the relative Ritz residuals `|beta s_m| / ||A||` of the wanted pairs
    /// not yet locked, from the wanted end (each pair has converged when its residual is at most the tolerance).
    case step(products: Int, residuals: [Double])
    /// A thick restart: the basis was full and is cut back to its wanted Ritz vectors; `restarts` so far.
    case restart(restarts: Int, products: Int, residuals: [Double])
    /// The wanted pairs are locked and a fresh start searches their complement for missed copies of a repeated
    /// eigenvalue; `locked` pairs so far.
    case complementSearch(products: Int, locked: Int)
}

/// Thick-restart Lanczos (Wu and Simon 2000) with full reorthogonalisation, for the k eigenpairs at one end of a
/// symmetric operator's spectrum.
///
/// After every product the wanted Ritz pairs of the basis so far are checked, and the run ends as soon as they have
/// converged (a well-separated top-3 of a ResNet takes about 20 products, as a plain Lanczos does, rather than a full
/// basis). The basis holds at most `basisSize` vectors. When it is full, the Ritz pairs are computed from the projected
/// matrix (an arrowhead after a restart: diagonal Ritz values plus a coupling row); the wanted ones (k plus a few
/// extra) are kept as the new basis and the iteration continues from the last residual vector. A pair has converged
/// when its Ritz residual `||A y - theta y|| = |beta_m s_m|` is at most `tolerance * ||A||` (||A|| estimated by the
/// largest |Ritz value|). Single-vector Krylov spaces see one copy of a repeated eigenvalue, so the search restarts
/// from a fresh random vector in the complement of the pairs found so far until a round adds nothing new:
/// eigenvalues are found with their multiplicity. Every random vector comes from `seed`.
///
/// With `floatBasis` the basis vectors are kept rounded to Float: half the memory of the largest thing a run holds
/// (40 vectors of an 11M-parameter model are 3.6 GB in Double), for operators evaluated in Float whose products
/// carry that rounding anyway. The operator is applied to the rounded vectors and the projections are computed in
/// Double, so the basis stays orthonormal to Float's rounding (about 1e-7), below any tolerance Float can reach.
public struct LanczosSolver: Sendable {
    public var count: Int
    public var end: SpectrumEnd
    public var tolerance: Double
    public var basisSize: Int
    /// Keep the basis in Float (see above); the Ritz vectors returned are Double.
    public var floatBasis: Bool
    /// Cap on operator applications.
    public var maxMatvecs: Int
    public var seed: UInt64

    /// The cap when none is given: far more than a well-separated end needs (tens to a few hundred products), enough
    /// for clustered ones. The CLI, the library analyses and the demo all use it.
    public static let defaultMaxMatvecs = 5000

    public init(count: Int, end: SpectrumEnd = .largest, tolerance: Double = 1e-8, basisSize: Int = 40, floatBasis: Bool = false,
                maxMatvecs: Int = defaultMaxMatvecs, seed: UInt64 = 0) {
        precondition(count >= 1, "ask for at least one eigenpair")
        self.count = count
        self.end = end
        self.tolerance = tolerance
        self.basisSize = basisSize
        self.floatBasis = floatBasis
        self.maxMatvecs = maxMatvecs
        self.seed = seed
    }

    /// The `count` eigenpairs at this end of `linearOperator`'s spectrum; `observe` sees every product's residuals and
    /// every restart as they happen.
    public func solve(_ linearOperator: any LinearOperator, observe: (LanczosProgress) -> Void = { _ in }) -> EigenResult {
        let n = linearOperator.dimension
        let k = min(count, n)
        var locked: [(value: Double, vector: Tensor<Double>)] = []
        var matvecs = 0, restarts = 0, round: UInt64 = 0
        var converged = true
        func moreExtreme(_ a: Double, _ b: Double) -> Bool { end == .largest ? a > b : a < b }
        func run(want: Int, beyond: Double? = nil) -> (pairs: [(value: Double, vector: Tensor<Double>)], converged: Bool) {
            var random = SeededRandom(seed: seed, stream: round)
            round += 1
            let result = cycle(linearOperator, want: want, deflation: locked.map(\.vector), random: &random, budget: maxMatvecs - matvecs,
                               beyond: beyond, products: matvecs, restarts: restarts, observe: observe)
            matvecs += result.matvecs
            restarts += result.restarts
            return (result.pairs, result.converged)
        }
        // Lock converged pairs round by round, each round searching the complement of what is locked.
        while locked.count < k, matvecs < maxMatvecs, n - locked.count > 0 {
            let result = run(want: k - locked.count)
            guard !result.pairs.isEmpty else { break }
            converged = converged && result.converged
            locked = (locked + result.pairs).sorted { moreExtreme($0.value, $1.value) }
            if !result.converged { break }
        }
        // A single Krylov space sees one copy of a repeated eigenvalue: look again in the complement until nothing
        // beats the k-th pair by more than the tolerance (so a null space cannot keep this going on rounding noise).
        // A search ends as soon as its leading Ritz value, widened by its residual, falls short of the k-th pair:
        // the eigenvalue it approximates cannot beat it, and converging it further would only confirm that.
        while locked.count == k, matvecs < maxMatvecs, n - locked.count > 0 {
            let scale = max(locked.map { abs($0.value) }.max() ?? 0, Double.leastNormalMagnitude)
            observe(.complementSearch(products: matvecs, locked: locked.count))
            let result = run(want: 1, beyond: locked[k - 1].value + (end == .largest ? 1 : -1) * tolerance * scale)
            guard let candidate = result.pairs.first, result.converged,
                  moreExtreme(candidate.value, locked[k - 1].value + (end == .largest ? 1 : -1) * tolerance * scale) else { break }
            locked = Array((locked + [candidate]).sorted { moreExtreme($0.value, $1.value) }.prefix(k))
        }
        let products = linearOperator.apply(block: locked.map(\.vector))
        matvecs += locked.count
        let residuals = zip(locked, products).map { pair, product in (product - pair.value * pair.vector).norm() }
        let scale = max(locked.map { abs($0.value) }.max() ?? 0, Double.leastNormalMagnitude)
        return EigenResult(eigenvalues: locked.map(\.value), eigenvectors: locked.map(\.vector), residuals: residuals,
                           matvecs: matvecs, restarts: restarts,
                           converged: converged && locked.count == k && residuals.allSatisfy { $0 <= tolerance * scale * 10 })
    }

    /// One thick-restart Lanczos run in the complement of `deflation`; `products` and `restarts` are those of the
    /// runs before it, for `observe`. With `beyond`, a search for one more pair: it gives up (no pairs, converged)
    /// once its leading Ritz value plus its residual `||A y - theta y||` is short of `beyond` (the k-th pair found).
    ///
    /// The projected matrix T is kept dense (at most `basisSize` squared): tridiagonal while the basis grows, with the
    /// Ritz values on the diagonal and the coupling row `beta s_i` to the next vector after a restart.
    private func cycle(
        _ linearOperator: any LinearOperator, want: Int, deflation: [Tensor<Double>], random: inout SeededRandom, budget: Int,
        beyond: Double? = nil, products before: Int, restarts restartsBefore: Int, observe: (LanczosProgress) -> Void
    ) -> (pairs: [(value: Double, vector: Tensor<Double>)], matvecs: Int, restarts: Int, converged: Bool) {
        let n = linearOperator.dimension
        let m = min(max(basisSize, want + 2), n - deflation.count)
        var basis = KrylovBasis(inFloat: floatBasis)
        var t = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        var matvecs = 0, restarts = 0
        var next = orthonormalised(Tensor.gaussian(shape: [n], using: &random), against: deflation)
        // The residual of the last step: A V = V T + residual e_last^T.
        var residual = Tensor<Double>(zeros: [n]), beta = 0.0
        /// The Ritz pairs of the basis so far (the eigenpairs of the projected matrix), the wanted ones in order
        /// from the wanted end, and their relative Ritz residuals `|beta * (last component of the eigenvector of T)|
        /// / ||A||`: a pair has converged when its residual is at most `tolerance`. Nil when the eigensolver fails.
        func ritzPairs() -> (values: [Double], vectors: Tensor<Double>, wanted: [Int], residuals: [Double], norm: Double)? {
            let size = basis.count
            guard let eigen = try? symmetricEigen(Tensor(rows: (0..<size).map { Array(t[$0].prefix(size)) })),
                  let vectors = eigen.vectors else { return nil }
            let norm = max(eigen.values.map(abs).max() ?? 0, Double.leastNormalMagnitude)
            let wanted = Array((end == .largest ? Array((0..<size).reversed()) : Array(0..<size)).prefix(want))
            return (eigen.values, vectors, wanted, wanted.map { abs(beta * vectors[$0, size - 1]) / norm }, norm)
        }
        while true {
            while basis.count < m, matvecs < budget, let candidate = next {
                let v = basis.append(candidate)
                let j = basis.count - 1
                var w = linearOperator.apply(v)
                matvecs += 1
                t[j][j] = w.chunkedDot(v)
                // Full reorthogonalisation against the basis and the deflated vectors. The recurrence's own terms
                // (column j of T: alpha v_j, beta v_(j-1), or a restart's couplings) go first, in one pass over w, so
                // what is left along the basis is rounding, which one classical Gram-Schmidt pass removes; a second
                // pass runs only when the first removed much (Daniel, Gragg, Kaufman and Stewart 1976: the norm fell
                // below 1/sqrt 2 of what it was). Each pass reads the whole basis twice: at ResNet-18's size the
                // basis is gigabytes, and a second pass on every step took a fifth of a top-3 run.
                let recurrenceNorm = basis.subtract((0...j).map { t[$0][j] }, from: &w)
                func reorthogonalise() -> Double {
                    if !deflation.isEmpty { w.subtractProjections(on: deflation, passes: 1) }
                    return basis.subtractProjections(from: &w, passes: 1)
                }
                beta = reorthogonalise()
                if beta < recurrenceNorm / 2.squareRoot() { beta = reorthogonalise() }
                residual = w
                next = nil
                if basis.count < m {
                    if beta > 1e-12 * max(1, abs(t[j][j])) {
                        t[j][j + 1] = beta
                        t[j + 1][j] = beta
                        next = w * (1 / beta)
                    } else {
                        // An invariant subspace: go on with a fresh direction orthogonal to everything so far.
                        beta = 0
                        next = orthonormalised(Tensor.gaussian(shape: [n], using: &random), against: deflation, basis)
                    }
                }
                // Checked after every product once the basis can hold the wanted pairs, so a cycle stops as soon as
                // they have converged (the projected matrix is at most `basisSize` square: nothing beside a product).
                if beta > 0, basis.count > want, let ritz = ritzPairs() {
                    observe(.step(products: before + matvecs, residuals: ritz.residuals))
                    if ritz.residuals.allSatisfy({ $0 <= tolerance }) { break }
                    if let beyond, let lead = ritz.wanted.first {
                        let reach = ritz.residuals[0] * ritz.norm
                        if end == .largest ? ritz.values[lead] + reach < beyond : ritz.values[lead] - reach > beyond { return ([], matvecs, restarts, true) }
                    }
                }
            }
            let size = basis.count
            guard size > 0, let (values, vectors, wanted, residuals, _) = ritzPairs() else { return ([], matvecs, restarts, false) }
            let isConverged = residuals.map { $0 <= tolerance }
            let order = end == .largest ? Array((0..<size).reversed()) : Array(0..<size)
            let done = !isConverged.contains(false)
            // In a cluster (a null space) the rest may converge slowly: after ten restarts, hand back the converged
            // leading pairs so they are locked and the search goes on in their complement.
            let leading = isConverged.firstIndex(of: false) ?? isConverged.count
            if !done && restarts >= 10 && leading >= 1 {
                let pairs = Array(wanted.prefix(leading))
                return (zip(pairs, ritzVectors(pairs)).map { (value: values[$0], vector: $1) }, matvecs, restarts, true)
            }
            /// The unit Ritz vectors of these eigenpairs of T, in one pass over the basis.
            func ritzVectors(_ rows: [Int]) -> [Tensor<Double>] {
                var ritz = basis.combinations(rows.map { row in (0..<size).map { vectors[row, $0] } })
                for i in ritz.indices { ritz[i] *= 1 / ritz[i].chunkedDot(ritz[i]).squareRoot() }  // in place: no copies
                return ritz
            }
            if done || size < m || matvecs >= budget {  // converged, the whole space spanned, or out of products
                return (zip(wanted, ritzVectors(wanted)).map { (value: values[$0], vector: $1) }, matvecs, restarts, done)
            }
            // Thick restart: keep the wanted Ritz vectors and about half the rest; continue from the residual.
            restarts += 1
            observe(.restart(restarts: restartsBefore + restarts, products: before + matvecs, residuals: residuals))
            let keep = min(m - 1, max(want + (m - want) / 2, want + 1))
            let kept = Array(order.prefix(keep))
            basis.replace(with: ritzVectors(kept))
            t = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
            for (i, row) in kept.enumerated() {
                t[i][i] = values[row]
                t[i][keep] = beta * vectors[row, size - 1]
                t[keep][i] = t[i][keep]
            }
            next = beta > 0 ? residual * (1 / beta)
                : orthonormalised(Tensor.gaussian(shape: [n], using: &random), against: deflation, basis)
        }
    }
}

/// `v` made orthogonal to `others` and `basis` (twice, for stability) and normalised; nil if nothing is left.
func orthonormalised(_ v: Tensor<Double>, against others: [Tensor<Double>], _ basis: KrylovBasis? = nil) -> Tensor<Double>? {
    var w = v
    w.subtractProjections(on: others)
    basis?.subtractProjections(from: &w)
    let norm = w.norm()
    return norm > 1e-10 ? w * (1 / norm) : nil
}

/// A Lanczos basis, in Double or rounded to Float (``LanczosSolver/floatBasis``).
struct KrylovBasis {
    let inFloat: Bool
    private var doubles: [Tensor<Double>] = []
    private var floats: [Tensor<Float>] = []

    init(inFloat: Bool) { self.inFloat = inFloat }

    var count: Int { inFloat ? floats.count : doubles.count }

    /// Appends `v` and returns it as stored (rounded to Float when the basis is), the vector the operator must see.
    mutating func append(_ v: Tensor<Double>) -> Tensor<Double> {
        guard inFloat else { doubles.append(v); return v }
        floats.append(v.converted(to: Float.self))
        return floats[floats.count - 1].converted(to: Double.self)
    }

    /// `w` minus its projections on the basis (``Tensor/subtractProjections(on:passes:)``); returns its norm.
    @discardableResult
    func subtractProjections(from w: inout Tensor<Double>, passes: Int = 2) -> Double {
        inFloat ? w.subtractProjections(on: floats, passes: passes) : w.subtractProjections(on: doubles, passes: passes)
    }

    /// `w` minus the basis vectors weighted by `coefficients` (one per vector so far; zeros skip their vector);
    /// returns its norm.
    func subtract(_ coefficients: [Double], from w: inout Tensor<Double>) -> Double {
        inFloat ? w.subtract(coefficients, of: Array(floats.prefix(coefficients.count)))
            : w.subtract(coefficients, of: Array(doubles.prefix(coefficients.count)))
    }

    /// For each row of coefficients (one per vector), the sum of the basis vectors weighted by it: one pass over
    /// the basis for all of them.
    func combinations(_ rows: [[Double]]) -> [Tensor<Double>] {
        inFloat ? Tensor.combinations(rows, of: floats) : Tensor.combinations(rows, of: doubles)
    }

    mutating func replace(with vectors: [Tensor<Double>]) {
        doubles = []
        floats = []
        for v in vectors { _ = append(v) }
    }
}

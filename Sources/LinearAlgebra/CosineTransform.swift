import CFFTW3
import Foundation

/// The unnormalised discrete cosine transforms FFTW computes (its REDFT kinds).
public enum CosineTransformKind: Sendable {
    /// DCT-II (FFTW_REDFT10): `y[k] = 2 * sum_j x[j] cos(pi (j + 1/2) k / n)`.
    case typeII
    /// DCT-III (FFTW_REDFT01), the inverse of DCT-II up to a factor 2n:
    /// `y[k] = x[0] + 2 * sum_{j>=1} x[j] cos(pi j (k + 1/2) / n)`.
    /// Evaluating a Chebyshev series at the Chebyshev nodes is this transform (KPM density reconstruction).
    case typeIII

    var fftwKind: fftw_r2r_kind {
        switch self {
        case .typeII: FFTW_REDFT10
        case .typeIII: FFTW_REDFT01
        }
    }
}

/// FFTW's planner is not thread-safe (execution is), so every plan is made and destroyed under this lock.
private let fftwPlannerLock = NSLock()

/// A planned discrete cosine transform of a fixed length, reusable and safe to share between threads.
///
/// Planning uses FFTW_ESTIMATE, so making a transform is cheap and deterministic.
public final class DiscreteCosineTransform<Scalar: TensorScalar>: @unchecked Sendable {
    // @unchecked: the plan is immutable after init; FFTW allows concurrent execution of one plan on
    // different arrays (new-array execute), and planning/destruction are serialised by fftwPlannerLock.
    private let plan: OpaquePointer?
    /// The transform length.
    public let count: Int
    public let kind: CosineTransformKind

    public init(count: Int, kind: CosineTransformKind) {
        precondition(count >= 1, "A cosine transform needs at least one point, got \(count)")
        self.count = count
        self.kind = kind
        var input = [Scalar](repeating: 0, count: count)
        var output = [Scalar](repeating: 0, count: count)
        fftwPlannerLock.lock()
        defer { fftwPlannerLock.unlock() }
        plan = input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                Scalar._fftwPlanR2R(n: count, input: i.baseAddress!, output: o.baseAddress!, kind: kind.fftwKind)
            }
        }
        precondition(plan != nil, "FFTW could not plan a \(kind) transform of length \(count)")
    }

    deinit {
        fftwPlannerLock.lock()
        defer { fftwPlannerLock.unlock() }
        if let plan { Scalar._fftwDestroyPlan(plan) }
    }

    /// Transforms `input`, which must have `count` elements.
    public func callAsFunction(_ input: [Scalar]) -> [Scalar] {
        precondition(input.count == count, "Cosine transform of length \(count) given \(input.count) values")
        var source = input
        var result = [Scalar](repeating: 0, count: count)
        source.withUnsafeMutableBufferPointer { i in
            result.withUnsafeMutableBufferPointer { o in
                Scalar._fftwExecuteR2R(plan: plan!, input: i.baseAddress!, output: o.baseAddress!)
            }
        }
        return result
    }
}

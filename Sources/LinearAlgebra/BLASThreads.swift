import CBLAS

/// The number of threads OpenBLAS (and so LAPACK, which Debian routes to the same library) uses.
///
/// One process-wide pool: code that parallelises over work items itself should set 1 to avoid
/// oversubscription; one large GEMM is fastest with every core.
public enum BLASThreads {
    /// The current thread count.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets the thread count (at least 1).
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLAS needs at least one thread, got \(count)")
        openblas_set_num_threads(Int32(count))
    }

    /// Runs `body` with `count` BLAS threads, restoring the previous count afterwards.
    public static func with<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let previous = self.count
        set(count)
        defer { set(previous) }
        return try body()
    }
}

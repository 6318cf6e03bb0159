import Dispatch
import Foundation

/// Data-parallel loops over the process's compute budget, which is the BLAS thread count.
///
/// Code that splits work over threads itself (HTSR's layers, landscape grid points) sets BLAS to one thread, and then
/// these loops run inline on the caller. Otherwise a loop runs `BLASThreads.count` workers with BLAS single-threaded
/// for its duration: kernels made of im2col, col2im and many mid-sized GEMMs (convolution) use every core for all of
/// their work that way, instead of one thread copying while OpenBLAS's other threads spin between GEMMs.
public enum ParallelLoop {
    /// Calls `body(&state, index)` for every index in `0..<count`, each exactly once, on up to `BLASThreads.count`
    /// workers that claim indices in turn; each worker makes its own `state` (a scratch buffer) once. Whatever
    /// `body` writes must depend only on the index, never on which worker ran it, so results do not depend on the
    /// thread count. `workers` overrides the budget (tests).
    public static func forEach<State>(_ count: Int, workers budget: Int = BLASThreads.count, state makeState: () -> State,
                                      _ body: (inout State, Int) -> Void) {
        let workers = min(budget, count)
        guard workers > 1 else {
            guard count > 0 else { return }
            var state = makeState()
            for index in 0..<count { body(&state, index) }
            return
        }
        let claims = IndexClaims(count: count)
        withoutActuallyEscaping(makeState) { makeState in
            withoutActuallyEscaping(body) { body in
                // Unchecked: concurrentPerform returns only when every worker has finished, and each index goes to
                // exactly one worker, so the closures and whatever they write to are never used concurrently on one
                // index, and never after this call.
                nonisolated(unsafe) let (makeState, body) = (makeState, body)
                BLASThreads.with(1) {
                    DispatchQueue.concurrentPerform(iterations: workers) { _ in
                        var state = makeState()
                        while let index = claims.next() { body(&state, index) }
                    }
                }
            }
        }
    }
}

/// Hands out 0, 1, 2, ... below a bound, to any thread.
private final class IndexClaims: @unchecked Sendable {
    // @unchecked: every access to `claimed` holds `lock`.
    private let count: Int
    private var claimed = 0
    private let lock = NSLock()

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard claimed < count else { return nil }
        claimed += 1
        return claimed - 1
    }
}

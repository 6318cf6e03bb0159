import CBLAS
import Foundation

/// The number of threads OpenBLAS (and so LAPACK, which Debian routes to the same library) uses.
///
/// One process-wide pool: code that parallelises over work items itself should set 1 to avoid
/// oversubscription; one large GEMM is fastest with every core.
///
/// Temporary counts (``with(_:_:)``) are overrides on a base count: the newest active override wins, and when the
/// last one ends the base returns. Save-and-restore instead would leave the pool at a stale count whenever two
/// overrides overlap on different threads (A saves 2, sets 1; B saves 1; A restores 2; B restores 1).
public enum BLASThreads {
    /// The current thread count.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets the base thread count (at least 1); active overrides keep theirs until they end.
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLAS needs at least one thread, got \(count)")
        state.withLock { overrides in
            overrides.base = count
            apply(overrides.effective)
        }
    }

    /// Runs `body` with `count` BLAS threads (unless a newer override starts meanwhile), then ends the override.
    public static func with<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let override = begin(count)
        defer { override.end() }
        return try body()
    }

    /// An override that lasts until ``Override/end()``: for async code, where ``with(_:_:)``'s closure cannot await.
    public static func begin(_ count: Int) -> Override {
        precondition(count >= 1, "BLAS needs at least one thread, got \(count)")
        return state.withLock { overrides in
            if overrides.active.isEmpty { overrides.base = self.count }
            let id = overrides.push(count)
            apply(overrides.effective)
            return Override(id: id)
        }
    }

    /// One temporary thread count; ``end()`` it exactly once.
    public struct Override: Sendable {
        let id: Int

        public func end() {
            BLASThreads.state.withLock { overrides in
                overrides.pop(id)
                BLASThreads.apply(overrides.effective)
            }
        }
    }

    fileprivate static func apply(_ count: Int) {
        if Int(openblas_get_num_threads()) != count { openblas_set_num_threads(Int32(count)) }
    }

    fileprivate static let state = LockedOverrides()
}

/// Active thread-count overrides on a base count: the newest active one is in effect, the base when none is.
struct BLASThreadOverrides: Equatable {
    struct Entry: Equatable {
        var id: Int
        var count: Int
    }

    var base: Int
    private(set) var active: [Entry] = []
    private var nextID = 0

    init(base: Int) { self.base = base }

    var effective: Int { active.last?.count ?? base }

    mutating func push(_ count: Int) -> Int {
        nextID += 1
        active.append(Entry(id: nextID, count: count))
        return nextID
    }

    mutating func pop(_ id: Int) { active.removeAll { $0.id == id } }

    /// Equal when the same overrides are active on the same base; how many were ever issued does not count.
    static func == (a: Self, b: Self) -> Bool { a.base == b.base && a.active == b.active }
}

/// The process's overrides behind a lock.
private final class LockedOverrides: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private var overrides = BLASThreadOverrides(base: Int(openblas_get_num_threads()))
    private let lock = NSLock()

    func withLock<R>(_ body: (inout BLASThreadOverrides) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&overrides)
    }
}

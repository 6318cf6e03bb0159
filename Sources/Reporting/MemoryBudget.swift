import Foundation

/// What one run may allocate in one piece: half of the machine's physical memory, the rest left to the system, the
/// model and the other buffers. Sizes that hostile files or options ask for are checked against it before anything
/// is allocated, so a run the machine cannot hold stops with the estimate instead of being killed part way.
public struct MemoryBudget: Sendable, Equatable {
    /// The bytes a single request may take.
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// Half of this machine's physical memory.
    public static let machine = MemoryBudget(bytes: Int(clamping: ProcessInfo.processInfo.physicalMemory / 2))

    /// The product of `counts` times `bytesEach`, or nil when it overflows or a count is negative.
    public static func size(_ counts: [Int], bytesEach: Int) -> Int? {
        var total = bytesEach
        for count in counts {
            guard count >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: count)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Refuses `what` (e.g. "the Lanczos basis (2000 vectors of 11181642 parameters)") when `counts` elements of
    /// `bytesEach` bytes exceed the budget; the message has the estimate and the machine's memory.
    public func check(_ counts: [Int], bytesEach: Int, for what: String) throws(MessageError) {
        let size = Self.size(counts, bytesEach: bytesEach)
        guard let size, size <= bytes else {
            throw MessageError("\(what) needs \(size.map { "about " + Rendering.bytes($0) } ?? "more than 8 EiB"), more than " +
                               "\(Rendering.bytes(bytes)) (half of this machine's memory)")
        }
    }
}

/// Adds up partial results of processes that each hold a share of the data set (data parallelism).
public protocol PartialSums: Sendable {
    /// Every process's `values` added elementwise; every process receives the same bits.
    func sum(_ values: [Double]) -> [Double]
}

/// An objective's data set split over several processes: this process holds a contiguous share, and its partial
/// sums over that share are added over every process by `sums`.
public struct DataShare: Sendable {
    public var sums: any PartialSums
    /// The samples of every process together.
    public var totalSamples: Int
    /// The terms every process's loss is a mean of together (``Loss/termCount(_:)``: samples, or tokens not ignored).
    public var totalTerms: Int

    /// Shares whose sample counts are `localSamples` on this process, and whose losses are means of `localTerms`
    /// terms (the samples when nil); the totals are summed over every process (a collective call: every process
    /// makes it).
    public init(sums: any PartialSums, localSamples: Int, localTerms: Int? = nil) {
        self.sums = sums
        let totals = sums.sum([Double(localSamples), Double(localTerms ?? localSamples)])
        totalSamples = Int(totals[0])
        totalTerms = Int(totals[1])
    }
}

/// Part `index` (from 0) of `count` contiguous parts of a data set, the earlier parts one sample longer when the
/// count does not divide.
public struct DataPart: Sendable, Equatable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// The rows of `total` samples this part holds.
    public func rows(of total: Int) -> Range<Int> {
        let base = total / count, extra = total % count
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}

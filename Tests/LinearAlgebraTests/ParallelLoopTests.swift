import Foundation
import LinearAlgebra
import Testing

@Suite struct ParallelLoopTests {
    /// Each worker's scratch count and the indices it ran, collected under a lock.
    final class Record: @unchecked Sendable {
        // @unchecked: every access holds `lock`.
        private let lock = NSLock()
        private var indices: [Int] = []
        private var states = 0
        func ran(_ index: Int) { lock.withLock { indices.append(index) } }
        func madeState() { lock.withLock { states += 1 } }
        var result: (indices: [Int], states: Int) { lock.withLock { (indices, states) } }
    }

    @Test func everyIndexRunsOnceWithOneScratchPerWorker() {
        for workers in [1, 2, 3] {
            let record = Record()
            ParallelLoop.forEach(100, workers: workers, state: { record.madeState(); return 0 }) { runs, index in
                runs += 1
                record.ran(index)
            }
            let (indices, states) = record.result
            #expect(indices.sorted() == Array(0..<100), "workers \(workers)")
            #expect(states == workers, "workers \(workers)")
        }
    }

    @Test func nothingRunsForNoIndices() {
        var ran = false
        ParallelLoop.forEach(0, workers: 2, state: { () }) { _, _ in ran = true }
        #expect(!ran)
    }
}

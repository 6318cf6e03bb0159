import Testing
import Reporting

@Suite struct MemoryBudgetTests {
    @Test func sizesOverflowToNilAndNegativeCountsAreRefused() {
        #expect(MemoryBudget.size([3, 4], bytesEach: 8) == 96)
        #expect(MemoryBudget.size([], bytesEach: 8) == 8)
        #expect(MemoryBudget.size([1 << 40, 1 << 40], bytesEach: 8) == nil)
        #expect(MemoryBudget.size([-1, 4], bytesEach: 8) == nil)
    }

    @Test func aRequestPastTheBudgetIsRefusedWithItsEstimate() throws {
        let budget = MemoryBudget(bytes: 1000)
        try budget.check([10, 12], bytesEach: 8, for: "the basis")  // 960 bytes fit
        #expect(throws: MessageError("the basis needs about 1.6 KiB, more than 1000 B (half of this machine's memory)")) {
            try budget.check([20, 10], bytesEach: 8, for: "the basis")
        }
        #expect(throws: MessageError.self) { try budget.check([1 << 40, 1 << 40], bytesEach: 8, for: "the basis") }
    }
}

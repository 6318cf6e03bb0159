import Testing
@testable import LinearAlgebra

@Suite struct TensorTests {
    @Test func shapeIndexingAndReshape() {
        var t = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(t[1, 2] == 6 && t.rank == 2 && t.count == 6)
        t[0, 1] = 20
        #expect(t.scalars == [1, 20, 3, 4, 5, 6])
        #expect(t.reshaped([3, 2])[2, 1] == 6)
        #expect(Tensor<Float>(repeating: 2, shape: []).scalars == [2])
        #expect(Tensor<Float>(zeros: [0, 5]).count == 0)
    }

    @Test func copyOnWriteKeepsValueSemantics() {
        let a = Tensor<Float>([1, 2, 3])
        var b = a
        b[0] = 9
        #expect(a.scalars == [1, 2, 3] && b.scalars == [9, 2, 3])
        var c = a
        c.addScaled(a, by: 2)
        #expect(a.scalars == [1, 2, 3] && c.scalars == [3, 6, 9])
    }

    @Test func transposeMatchesNaive() {
        for (m, n) in [(1, 7), (7, 1), (33, 65), (0, 4)] {
            let rows = randomRows(m, n, seed: 1)
            let t = tensor(rows, columns: n, as: Double.self).transposed()
            #expect(t.shape == [n, m])
            if m > 0 { #expect(rowsOf(t) == naiveTranspose(rows, columns: n)) }
        }
    }

    @Test func elementwiseAndReductions() {
        let a = Tensor<Double>(rows: [[1, 2, 3], [4, 5, 6]])
        let b = Tensor<Double>(rows: [[6, 5, 4], [3, 2, 1]])
        #expect((a + b).scalars == [7, 7, 7, 7, 7, 7])
        #expect((a - b).scalars == [-5, -3, -1, 1, 3, 5])
        #expect((a * b).scalars == [6, 10, 12, 12, 10, 6])
        #expect((a / b)[1, 2] == 6)
        #expect((2 * a).scalars == [2, 4, 6, 8, 10, 12] && (-a)[0, 0] == -1)
        #expect(a.sum() == 21 && a.mean() == 3.5 && a.dot(b) == 56)
        #expect(a.sum(alongAxis: 0).scalars == [5, 7, 9])
        #expect(a.sum(alongAxis: 1).scalars == [6, 15])
        #expect(Tensor<Double>([3, 4]).norm() == 5 && Tensor<Double>([-7, 2]).maxAbsolute() == 7)
        #expect(Tensor<Double>(zeros: [0]).mean().isNaN)
    }

    @Test func pairwiseSumIsAccurateInFloat() {
        // Ten million copies of 0.1 in Float: naive accumulation drifts by percent, pairwise stays near 1e-6.
        let t = Tensor<Float>(repeating: 0.1, shape: [10_000_000])
        let relativeError = abs(Double(t.sum()) - 1_000_000.0149) / 1_000_000
        #expect(relativeError < 1e-5)
    }

    @Test func conversionBetweenPrecisions() {
        let t = Tensor<Double>([1.5, -2.25]).converted(to: Float.self)
        #expect(t.scalars == [1.5, -2.25])
    }
}

/// The override bookkeeping as a value (the process-wide pool is shared by every test running concurrently, so its
/// count at any moment is not this test's to check).
@Suite struct BLASThreadsTests {
    @Test func theNewestOverrideWinsAndTheBaseReturnsWhenAllEnd() {
        var overrides = BLASThreadOverrides(base: 2)
        let a = overrides.push(1)
        #expect(overrides.effective == 1)
        let b = overrides.push(3)
        #expect(overrides.effective == 3)
        overrides.pop(a)  // ends out of order, as concurrent overrides do
        #expect(overrides.effective == 3)
        overrides.pop(b)
        #expect(overrides.effective == 2)
        #expect(overrides == BLASThreadOverrides(base: 2))
    }
}

@Suite struct MemoryReuseTests {
    @Test func glibcAcceptsEverySetting() {
        #if canImport(Glibc)
        #expect(MemoryReuse.keepFreedBlocks())
        #endif
    }
}

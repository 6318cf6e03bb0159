import Foundation
import LinearAlgebra
import Testing
@testable import NeuralNetworks

/// Processes simulated by threads: `sum` blocks until every participant has contributed, then each gets the total
/// added in participant order, as one message in an MPI run would give it.
final class ThreadGroup: @unchecked Sendable {
    // @unchecked: every access holds `condition`.
    private let count: Int
    private let condition = NSCondition()
    private var contributions: [Int: [Double]] = [:]
    private var total: [Double]?
    private var collected = 0
    private var generation = 0

    init(count: Int) { self.count = count }

    func sum(_ values: [Double], from participant: Int) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        let round = generation
        contributions[participant] = values
        if contributions.count == count {
            total = (0..<count).map { contributions[$0]! }.reduce([Double](repeating: 0, count: values.count)) { zip($0, $1).map(+) }
            contributions = [:]
            collected = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        collected += 1
        return total!
    }

    /// One participant's view.
    struct Member: PartialSums {
        let group: ThreadGroup
        let index: Int
        func sum(_ values: [Double]) -> [Double] { group.sum(values, from: index) }
    }
}

@Suite struct DataParallelismTests {
    /// The data split over 2 and 3 simulated processes, each summing its share's batches: loss, gradient, Hessian,
    /// GGN and Fisher products and accuracy equal the single-process ones to rounding.
    @Test(arguments: [2, 3])
    func sharesAddUpToTheWholeDataSet(processes: Int) throws {
        let data = classification(samples: 23, features: 5, classes: 3, seed: 7)
        let model = Sequential(Linear(5, 6), Activation.tanh, Linear(6, 3))
        let whole = Objective(model: model, parameters: model.makeParameters(seed: 8), loss: .crossEntropy, data: data, batchSize: 4)
        let v = gaussian([whole.dimension], seed: 9), w = gaussian([whole.dimension], seed: 10)
        let expected = (whole.lossAndGradient(at: whole.point), whole.hessianBlockProduct(at: whole.point, [v, w]),
                        whole.ggnVectorProduct(at: whole.point, v), whole.empiricalFisherVectorProduct(at: whole.point, v),
                        whole.evaluate())

        let group = ThreadGroup(count: processes)
        let results = ResultBox(count: processes)
        // One thread per simulated process: a pool with fewer threads than processes would deadlock in `sum`.
        let finished = DispatchGroup()
        for index in 0..<processes {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                let rows = DataPart(index: index, count: processes).rows(of: data.count)
                var part = whole
                part.data = data.rows(Array(rows))
                part.share = DataShare(sums: ThreadGroup.Member(group: group, index: index), localSamples: rows.count)
                results.set(index, (part.lossAndGradient(at: part.point), part.hessianBlockProduct(at: part.point, [v, w]),
                                    part.ggnVectorProduct(at: part.point, v), part.empiricalFisherVectorProduct(at: part.point, v),
                                    part.evaluate(), part.sampleCount))
            }
        }
        finished.wait()
        for index in 0..<processes {
            let (lossAndGradient, block, ggn, fisher, evaluation, count) = results.get(index)
            #expect(count == data.count)
            #expect(abs(lossAndGradient.loss - expected.0.loss) < 1e-13)
            #expect(relativeDifference(lossAndGradient.gradient, expected.0.gradient) < 1e-12)
            #expect(relativeDifference(block[0], expected.1[0]) < 1e-12 && relativeDifference(block[1], expected.1[1]) < 1e-12)
            #expect(relativeDifference(ggn, expected.2) < 1e-12 && relativeDifference(fisher, expected.3) < 1e-12)
            #expect(abs(evaluation.loss - expected.4.loss) < 1e-13 && evaluation.accuracy == expected.4.accuracy)
        }
    }
}

func relativeDifference(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double { (a - b).maxAbsolute() / max(b.maxAbsolute(), 1e-300) }

typealias ShareResult = ((loss: Double, gradient: Tensor<Double>), [Tensor<Double>], Tensor<Double>, Tensor<Double>,
                         (loss: Double, accuracy: Double?), Int)

final class ResultBox: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var values: [Int: ShareResult] = [:]
    init(count: Int) {}
    func set(_ index: Int, _ value: ShareResult) { lock.lock(); values[index] = value; lock.unlock() }
    func get(_ index: Int) -> ShareResult { lock.lock(); defer { lock.unlock() }; return values[index]! }
}

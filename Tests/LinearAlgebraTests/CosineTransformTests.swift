import Foundation
import Testing
@testable import LinearAlgebra

@Suite struct CosineTransformTests {
    func naive(_ x: [Double], kind: CosineTransformKind) -> [Double] {
        let n = x.count
        return (0..<n).map { k in
            switch kind {
            case .typeII:
                return 2 * (0..<n).reduce(0.0) { $0 + x[$1] * cos(.pi * (Double($1) + 0.5) * Double(k) / Double(n)) }
            case .typeIII:
                return x[0] + 2 * (1..<max(1, n)).reduce(0.0) {
                    $0 + x[$1] * cos(.pi * Double($1) * (Double(k) + 0.5) / Double(n))
                }
            }
        }
    }

    func check<S: TensorScalar>(_: S.Type) {
        for n in [1, 2, 3, 8, 17, 64] {
            let x = randomRows(1, n, seed: UInt64(n))[0]
            for kind in [CosineTransformKind.typeII, .typeIII] {
                let transform = DiscreteCosineTransform<S>(count: n, kind: kind)
                let y = transform(x.map { S($0) })
                let error = zip(y, naive(x, kind: kind)).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(error <= tolerance(S.self, scale: Double(n)) * 20, "DCT \(kind) n=\(n) \(S.self): \(error)")
            }
        }
    }

    @Test func floatAgainstNaiveLoops() { check(Float.self) }
    @Test func doubleAgainstNaiveLoops() { check(Double.self) }

    @Test func typeIIIInvertsTypeIIUpToTwoN() {
        let n = 10
        let x = randomRows(1, n, seed: 5)[0]
        let forward = DiscreteCosineTransform<Double>(count: n, kind: .typeII)(x)
        let back = DiscreteCosineTransform<Double>(count: n, kind: .typeIII)(forward)
        for (a, b) in zip(back, x) { #expect(abs(a / Double(2 * n) - b) < 1e-13) }
    }

    @Test func plansConcurrently() async {
        // Planning is serialised internally; many tasks planning and executing at once must agree.
        let x = randomRows(1, 33, seed: 6)[0]
        let expected = naive(x, kind: .typeII)
        let errors = await withTaskGroup(of: Double.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let y = DiscreteCosineTransform<Double>(count: 33, kind: .typeII)(x)
                    return zip(y, expected).map { abs($0 - $1) }.max() ?? 0
                }
            }
            return await group.reduce(into: [Double]()) { $0.append($1) }
        }
        #expect(errors.count == 16 && errors.allSatisfy { $0 < 1e-12 })
    }
}

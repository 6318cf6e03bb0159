import Foundation
import LinearAlgebra
import Testing
@testable import Autodiff

typealias V = Variable<Double>

func randomTensor(_ shape: [Int], seed: UInt64, positive: Bool = false) -> Tensor<Double> {
    var random = SeededRandom(seed: seed)
    let t = Tensor<Double>.gaussian(shape: shape, using: &random)
    return positive ? t.map { Swift.abs($0) + 0.5 } : t
}

/// Checks first derivatives against central differences and Hessian-vector products against central differences of
/// gradients, for the scalar L(x) = sum(f(x) * R) with a fixed random R; forward mode too: the tangent of f along v
/// against central differences of f, and the tangent of the gradient (forward-over-reverse) against the same
/// differences of gradients as the double-backward product.
func checkDerivatives(
    _ name: String, _ inputs: [Tensor<Double>], sourceLocation: SourceLocation = #_sourceLocation,
    _ f: @escaping ([V]) -> V
) {
    let weights = randomTensor(f(inputs.map(V.init)).shape, seed: 99)
    func loss(_ xs: [V]) -> V { (f(xs) * V(weights)).sum() }
    func gradient(_ values: [Tensor<Double>]) -> [Tensor<Double>] {
        let xs = values.map { V.differentiable($0) }
        return gradients(of: loss(xs), withRespectTo: xs).map(\.value)
    }
    func scalarLoss(_ values: [Tensor<Double>]) -> Double { loss(values.map(V.init)).value.scalars[0] }

    // Gradient against central differences.
    let analytic = gradient(inputs)
    let h = 1e-6
    for (index, input) in inputs.enumerated() {
        for element in 0..<input.count {
            var plus = inputs, minus = inputs
            var p = input.scalars, m = input.scalars
            p[element] += h
            m[element] -= h
            plus[index] = Tensor(shape: input.shape, scalars: p)
            minus[index] = Tensor(shape: input.shape, scalars: m)
            let numeric = (scalarLoss(plus) - scalarLoss(minus)) / (2 * h)
            let error = Swift.abs(analytic[index].scalars[element] - numeric)
            #expect(error <= 1e-6 * (1 + Swift.abs(numeric)), "\(name): d/dx\(index)[\(element)] \(analytic[index].scalars[element]) vs \(numeric)",
                    sourceLocation: sourceLocation)
        }
    }

    // Hessian-vector product against central differences of the gradient along v.
    let directions = inputs.enumerated().map { randomTensor($0.element.shape, seed: UInt64(200 + $0.offset)) }
    let xs = inputs.map { V.differentiable($0) }
    let first = gradients(of: loss(xs), withRespectTo: xs, createGraph: true)
    let inner = zip(first, directions).map { $0.dot(V($1)) }.reduce(V.constant(0), +)
    let hvp = gradients(of: inner, withRespectTo: xs).map(\.value)
    let epsilon = 1e-5
    let shiftedPlus = gradient(zip(inputs, directions).map { $0 + epsilon * $1 })
    let shiftedMinus = gradient(zip(inputs, directions).map { $0 - epsilon * $1 })
    for index in inputs.indices {
        let numeric = (shiftedPlus[index] - shiftedMinus[index]) * (1 / (2 * epsilon))
        let scale = 1 + numeric.maxAbsolute()
        let error = (hvp[index] - numeric).maxAbsolute()
        #expect(error <= 1e-6 * scale, "\(name): HVP wrt x\(index) off by \(error)", sourceLocation: sourceLocation)
    }

    // Forward mode: J v by a pass with dual leaves, against central differences of f along v.
    let duals = zip(inputs, directions).map { V.dual($0, tangent: $1) }
    let jvp = f(duals).tangent ?? Tensor(zeros: f(inputs.map(V.init)).shape)
    let fPlus = f(zip(inputs, directions).map { V($0 + epsilon * $1) }).value
    let fMinus = f(zip(inputs, directions).map { V($0 - epsilon * $1) }).value
    let jvpNumeric = (fPlus - fMinus) * (1 / (2 * epsilon))
    #expect((jvp - jvpNumeric).maxAbsolute() <= 1e-6 * (1 + jvpNumeric.maxAbsolute()),
            "\(name): JVP off by \((jvp - jvpNumeric).maxAbsolute())", sourceLocation: sourceLocation)

    // Forward-over-reverse: the gradient's tangent, with the parameters' tangents v, is H v.
    let tangentLeaves = zip(inputs, directions).map { V.differentiable($0, tangent: $1) }
    let gradientTangents = gradients(of: loss(tangentLeaves), withRespectTo: tangentLeaves).map { $0.tangent ?? Tensor(zeros: $0.shape) }
    for index in inputs.indices {
        let numeric = (shiftedPlus[index] - shiftedMinus[index]) * (1 / (2 * epsilon))
        let error = (gradientTangents[index] - numeric).maxAbsolute()
        #expect(error <= 1e-6 * (1 + numeric.maxAbsolute()), "\(name): forward-over-reverse HVP wrt x\(index) off by \(error)",
                sourceLocation: sourceLocation)
        #expect((gradientTangents[index] - hvp[index]).maxAbsolute() <= 1e-10 * (1 + hvp[index].maxAbsolute()),
                "\(name): the two HVP modes differ wrt x\(index)", sourceLocation: sourceLocation)
    }

    // The same by replaying a linearization of the gradient's computation: twice, with v and with 2 v, since a
    // replay must not depend on what an earlier one left behind.
    let linearization = Linearization<Double>()
    let (linearLeaves, recordedGradient) = linearization.recording {
        let leaves = inputs.map { linearization.leaf($0) }
        return (leaves, gradients(of: loss(leaves), withRespectTo: leaves))
    }
    let replayed = linearization.replay(leaves: Array(zip(linearLeaves, directions)), outputs: recordedGradient)
    let doubled = linearization.replay(leaves: Array(zip(linearLeaves, directions.map { 2 * $0 })), outputs: recordedGradient)
    for index in inputs.indices {
        #expect((replayed[index] - gradientTangents[index]).maxAbsolute() <= 1e-12 * (1 + hvp[index].maxAbsolute()),
                "\(name): the replayed HVP differs wrt x\(index)", sourceLocation: sourceLocation)
        #expect((doubled[index] - 2 * replayed[index]).maxAbsolute() <= 1e-12 * (1 + hvp[index].maxAbsolute()),
                "\(name): the replay is not linear wrt x\(index)", sourceLocation: sourceLocation)
    }
}

@Suite struct OperationDerivativeTests {
    let a = randomTensor([3, 4], seed: 1)
    let b = randomTensor([3, 4], seed: 2)

    @Test func broadcastingArithmetic() {
        for other in [randomTensor([3, 4], seed: 3), randomTensor([4], seed: 4), randomTensor([3, 1], seed: 5), randomTensor([], seed: 6)] {
            checkDerivatives("add \(other.shape)", [a, other]) { $0[0] + $0[1] }
            checkDerivatives("sub \(other.shape)", [a, other]) { $0[0] - $0[1] }
            checkDerivatives("mul \(other.shape)", [a, other]) { $0[0] * $0[1] * $0[0] }
            checkDerivatives("div \(other.shape)", [a, other.map { Swift.abs($0) + 0.5 }]) { $0[0] / $0[1] }
        }
        checkDerivatives("neg", [a]) { -($0[0] * $0[0]) }
    }

    /// Every target a shape can be summed to (each axis kept or summed, leading axes dropped), against a sum written
    /// out element by element.
    @Test func summedToEveryTargetShapeEqualsTheElementwiseSum() {
        for shape in [[2, 3, 4, 5], [1, 3, 1, 4], [4, 1, 2], [6], [2, 1]] {
            let x = randomTensor(shape, seed: 31)
            for mask in 0..<(1 << shape.count) {
                let kept = shape.indices.map { mask & (1 << $0) != 0 ? shape[$0] : 1 }
                for dropped in 0...(kept.prefix { $0 == 1 }.count) {
                    let target = Array(kept.dropFirst(dropped))
                    var expected = [Double](repeating: 0, count: target.reduce(1, *))
                    for flat in 0..<x.count {
                        var rest = flat, out = 0, scale = 1
                        for axis in shape.indices.reversed() {
                            let i = rest % shape[axis]
                            rest /= shape[axis]
                            if kept[axis] != 1 { out += i * scale; scale *= kept[axis] }
                        }
                        expected[out] += x.scalars[flat]
                    }
                    let summed = x.summed(toShape: target)
                    #expect(summed.shape == target, "\(shape) -> \(target)")
                    #expect(zip(summed.scalars, expected).allSatisfy { Swift.abs($0 - $1) < 1e-12 }, "\(shape) -> \(target)")
                }
            }
        }
    }

    @Test func reductions() {
        let x = randomTensor([2, 3, 4], seed: 7)
        checkDerivatives("sum all", [x]) { ($0[0] * $0[0]).sum() }
        checkDerivatives("sum axis 1", [x]) { ($0[0] * $0[0]).sum(alongAxes: [1]) }
        checkDerivatives("sum axes 0,2 keep", [x]) { ($0[0] * $0[0]).sum(alongAxes: [0, 2], keepingDimensions: true) }
        checkDerivatives("mean axis 2", [x]) { ($0[0] * $0[0]).mean(alongAxes: [2]) }
        checkDerivatives("logsumexp", [x]) { $0[0].logSumExp(alongAxis: 1) }
        checkDerivatives("softmax", [x]) { $0[0].softmax(alongAxis: 2) }
        checkDerivatives("softmax axis 1", [x]) { $0[0].softmax(alongAxis: 1) }
        // The primitive against its definition, exp(x - logsumexp(x)).
        for axis in 0..<3 {
            let definition = (V(x) - V(x).logSumExp(alongAxis: axis, keepingDimensions: true)).exp().value
            #expect((V(x).softmax(alongAxis: axis).value - definition).maxAbsolute() < 1e-15)
        }
        checkDerivatives("log-softmax", [x]) { $0[0].logSoftmax(alongAxis: 0) }
    }

    @Test func elementwiseFunctions() {
        let positive = randomTensor([3, 4], seed: 8, positive: true)
        checkDerivatives("exp", [a]) { $0[0].exp() }
        checkDerivatives("log", [positive]) { $0[0].log() }
        checkDerivatives("sqrt", [positive]) { $0[0].sqrt() }
        checkDerivatives("pow 2.5", [positive]) { $0[0].pow(2.5) }
        checkDerivatives("pow 3", [a]) { $0[0].pow(3) }
        checkDerivatives("tanh", [a]) { $0[0].tanh() }
        checkDerivatives("sigmoid", [a]) { $0[0].sigmoid() }
        checkDerivatives("erf", [a]) { $0[0].erf() }
        checkDerivatives("sin", [a]) { $0[0].sin() }
        checkDerivatives("cos", [a]) { $0[0].cos() }
        checkDerivatives("softplus", [a * 3]) { $0[0].softplus() }
        checkDerivatives("gelu (erf)", [a]) { $0[0].gelu() }
        // Its derivatives are primitives too; the third-order rule is checked through them.
        checkDerivatives("gelu slope", [a]) { $0[0].geluSlope() }
        checkDerivatives("gelu curvature", [a]) { $0[0].geluCurvature() }
        let definition = (V(a) * 0.5 * ((V(a) * (1 / 2.0.squareRoot())).erf() + 1)).value
        #expect((V(a).gelu().value - definition).maxAbsolute() < 1e-15)
        checkDerivatives("gelu (tanh)", [a]) { $0[0].geluTanh() }
        // Piecewise-linear: exact away from the kink; second derivative zero.
        checkDerivatives("relu", [a]) { $0[0].relu() * $0[0] }
        checkDerivatives("leaky relu", [a]) { $0[0].leakyRelu(slope: 0.1) * $0[0] }
    }

    @Test func shapeOperations() {
        let x = randomTensor([2, 3, 4], seed: 9)
        checkDerivatives("reshape", [x]) { $0[0].reshaped([6, 4]) * $0[0].reshaped([6, 4]) }
        checkDerivatives("transpose", [a]) { $0[0].transposed() * $0[0].transposed().exp() }
        checkDerivatives("permute", [x]) { $0[0].permuted([2, 0, 1]).tanh() * $0[0].permuted([2, 0, 1]) }
        checkDerivatives("slice", [x]) { $0[0].sliced([0..<2, 1..<3, 0..<4]).pow(2) }
        checkDerivatives("concat", [a, b]) { V.concatenated([$0[0], $0[1] * $0[0]], axis: 1).tanh() }
        checkDerivatives("concat axis 0", [a, b]) { V.concatenated([$0[0].exp(), $0[1]], axis: 0) * V.concatenated([$0[1], $0[0]], axis: 0) }
        checkDerivatives("broadcast", [randomTensor([4], seed: 10)]) { $0[0].broadcast(to: [3, 4]).pow(2) }
    }

    @Test func matrixProducts() {
        checkDerivatives("matmul 2d", [randomTensor([3, 5], seed: 11), randomTensor([5, 2], seed: 12)]) {
            V.matmul($0[0], $0[1]).tanh()
        }
        checkDerivatives("matmul batched", [randomTensor([2, 3, 5], seed: 13), randomTensor([2, 5, 4], seed: 14)]) {
            V.matmul($0[0], $0[1]).sigmoid()
        }
        checkDerivatives("matmul batch x shared", [randomTensor([2, 3, 5], seed: 15), randomTensor([5, 4], seed: 16)]) {
            V.matmul($0[0], $0[1]).pow(2)
        }
        checkDerivatives("matmul broadcast batch", [randomTensor([1, 3, 5], seed: 17), randomTensor([2, 5, 4], seed: 18)]) {
            V.matmul($0[0], $0[1]).exp()
        }
        checkDerivatives("matmul rank 4 x shared", [randomTensor([2, 2, 3, 5], seed: 19), randomTensor([5, 4], seed: 20)]) {
            V.matmul($0[0], $0[1]).tanh()
        }
        checkDerivatives("matmul matrix x batch", [randomTensor([3, 5], seed: 21), randomTensor([2, 5, 4], seed: 22)]) {
            V.matmul($0[0], $0[1]).sigmoid()
        }
        for (transposeA, transposeB) in [(true, false), (false, true), (true, true)] {
            let a = randomTensor(transposeA ? [2, 5, 3] : [2, 3, 5], seed: 23), b = randomTensor(transposeB ? [2, 4, 5] : [2, 5, 4], seed: 24)
            checkDerivatives("matmul batched transposeA \(transposeA) transposeB \(transposeB)", [a, b]) {
                V.matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB).tanh()
            }
        }
    }

    @Test func nonDifferentiableInputsGetZerosAndConstantsStayConstant() {
        let x = V.differentiable(a), unused = V.differentiable(b)
        let gs = gradients(of: (x * x).sum(), withRespectTo: [x, unused])
        #expect(gs[0].value == a * 2 && gs[1].value == Tensor(zeros: [3, 4]))
        #expect(!(V(a) * V(b)).isDifferentiable)
    }
}

@Suite struct RationalTanhTests {
    @Test func singlePrecisionTanhIsWithinFourUlpOfLibm() {
        var worst = 0.0
        for step in -200_000...200_000 {
            let x = Float(step) / 10_000
            let exact = Foundation.tanh(Double(x))
            worst = max(worst, abs(Double(rationalTanh(x)) - exact) / max(abs(exact), 1e-30))
        }
        #expect(worst < 4 * Double(Float.ulpOfOne))
        #expect(rationalTanh(1e-5) == 1e-5 && rationalTanh(30) == 1 && rationalTanh(-30) == -1)
        let t = Tensor<Float>([-3, -0.5, 0, 0.25, 9]).hyperbolicTangent()
        #expect(zip(t.scalars, [-3, -0.5, 0, 0.25, 9].map { Float(Foundation.tanh($0)) }).allSatisfy { abs($0 - $1) < 4e-7 })
    }
}

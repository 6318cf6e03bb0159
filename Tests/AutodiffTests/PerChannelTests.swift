import LinearAlgebra
import Testing
@testable import Autodiff

/// The per-channel affine family (eval-mode BatchNorm's one-pass map and its parameters' gradients), against the
/// broadcasting arithmetic it replaces and against finite differences at every order `checkDerivatives` covers.
struct PerChannelTests {
    @Test(arguments: [[3, 4, 2, 5], [6, 3]])
    func valuesAreTheBroadcastingArithmetic(shape: [Int]) {
        let x = randomTensor(shape, seed: 1), scale = randomTensor([shape[1]], seed: 2), shift = randomTensor([shape[1]], seed: 3)
        var channel = [Int](repeating: 1, count: shape.count)
        channel[1] = shape[1]
        let expected = V(x) * V(scale.reshaped(channel)) + V(shift.reshaped(channel))
        #expect((V(x).scaledPerChannel(V(scale), plus: V(shift)).value - expected.value).maxAbsolute() < 1e-14)
        #expect((V(x).scaledPerChannel(V(scale), plus: nil).value - (V(x) * V(scale.reshaped(channel))).value).maxAbsolute() < 1e-14)
        let y = randomTensor(shape, seed: 4)
        let dot = (V(x) * V(y)).summed(toShape: channel).reshaped([shape[1]]).value
        #expect((V(x).channelDot(V(y)).value - dot).maxAbsolute() < 1e-12)
        #expect((V(x).channelSum().value - V(x).summed(toShape: channel).reshaped([shape[1]]).value).maxAbsolute() < 1e-12)
    }

    @Test func derivatives() {
        let shape = [3, 2, 2, 3]
        let x = randomTensor(shape, seed: 5), y = randomTensor(shape, seed: 6)
        let scale = randomTensor([2], seed: 7), shift = randomTensor([2], seed: 8)
        // tanh makes every second derivative non-zero, so the Hessian checks test the rules' own derivatives.
        checkDerivatives("scaledPerChannel", [x, scale, shift]) { $0[0].scaledPerChannel($0[1], plus: $0[2]).tanh() }
        checkDerivatives("scaledPerChannel without shift", [x, scale]) { $0[0].scaledPerChannel($0[1], plus: nil).tanh() }
        checkDerivatives("channelDot", [x, y]) { $0[0].channelDot($0[1]).tanh() }
        checkDerivatives("channelSum", [x]) { ($0[0] * $0[0]).channelSum().tanh() }
        checkDerivatives("rank 2", [randomTensor([4, 3], seed: 9), randomTensor([3], seed: 10), randomTensor([3], seed: 11)]) {
            $0[0].scaledPerChannel($0[1], plus: $0[2]).tanh()
        }
    }

    @Test func batchNormInEvalModeMatchesItsFormula() {
        let x = randomTensor([4, 3, 2, 2], seed: 12), weight = randomTensor([3], seed: 13), bias = randomTensor([3], seed: 14)
        let mean = randomTensor([3], seed: 15), variance = randomTensor([3], seed: 16, positive: true)
        let y = V(x).batchNormalized(weight: V(weight), bias: V(bias), running: (V(mean), V(variance)), epsilon: 1e-5).output.value
        for n in 0..<4 {
            for c in 0..<3 {
                for i in 0..<4 {
                    let index = (n * 3 + c) * 4 + i
                    let expected = (x.scalars[index] - mean.scalars[c]) / (variance.scalars[c] + 1e-5).squareRoot() * weight.scalars[c] + bias.scalars[c]
                    #expect(abs(y.scalars[index] - expected) < 1e-12)
                }
            }
        }
    }
}

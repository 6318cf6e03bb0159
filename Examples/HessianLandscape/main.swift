// A loss landscape along Hessian axes: the shipped MLP (ONNX) on the digits, sliced along its top two Hessian
// eigenvectors, written as an SVG contour plot and a ParaView grid. The program checks that the slice's curvature
// along each axis is the axis's eigenvalue, and shows how far from quadratic the loss is across the grid.
// Run: swift run -c release HessianLandscape [OUTPUT_DIR]   (default: .)
import Curvature
import Foundation

let folder = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? ".")
let loaded: LoadedModel<Double> = try ModelLoader.load("Examples/models/digits_mlp.onnx")
let digits: Dataset<Double> = try DataLoader.load("digits")
let objective = Objective(model: loaded.model, parameters: loaded.parameters, buffers: loaded.buffers, loss: .crossEntropy, data: digits)
let weights = LandscapeAxes.namedTensors(objective.parameters, outputAxes: loaded.model.outputAxes)
let axes = LandscapeAxes.hessian(objective, weights: weights, count: 2, pair: .top, seed: 0, normalization: .none, lowRank: .ignore)
let slice = LandscapeSlice(objective: objective, directions: axes.directions)
let coordinates = (0..<21).map { -1 + 0.1 * Double($0) }
var grid = LandscapeGrid(x: coordinates, y: coordinates, quantities: slice.quantities)
try grid.fill(shard: nil, workers: 1, evaluate: slice.evaluate) { _ in }

let (l1, l2) = (axes.eigenvalues[0], axes.eigenvalues[1])
let centre = slice.evaluate(0, 0)[0]
// The slice's curvature along each axis is that axis's eigenvalue: the symmetric second difference
// (L(h) + L(-h) - 2 L(0)) / h^2 cancels the gradient's first-order term (a trained point is not an exact minimum).
let h = 0.01
for (name, lambda, point) in [("v1", l1, { (t: Double) in slice.evaluate(t, 0)[0] }), ("v2", l2, { (t: Double) in slice.evaluate(0, t)[0] })] {
    let curvature = (point(h) + point(-h) - 2 * centre) / (h * h)
    print(String(format: "along %@: second difference %.6f, Hessian eigenvalue %.6f", name, curvature, lambda))
    guard abs(curvature - lambda) <= 0.01 * lambda else { fatalError("the slice's curvature is not the eigenvalue") }
}
print(String(format: "at the grid's corner (1, 1): loss - loss(0) = %.4e against %.4e: cross-entropy is far from quadratic there",
             grid.loss[20 * 21 + 20] - centre, 0.5 * (l1 + l2)))
let svg = grid.plot(title: "digits MLP along its top two Hessian eigenvectors", xLabel: "a (v1)", yLabel: "b (v2)")
try svg.write(to: folder.appendingPathComponent("hessian-landscape.svg"), atomically: true, encoding: .utf8)
try grid.vts().write(to: folder.appendingPathComponent("hessian-landscape.vts"), atomically: true, encoding: .utf8)
print(String(format: "lambda_1 %.5f, lambda_2 %.5f; wrote hessian-landscape.svg and .vts", l1, l2))

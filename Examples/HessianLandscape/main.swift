// A loss landscape along Hessian axes as one library call: the shipped MLP (ONNX) on the digits, sliced along its
// top two Hessian eigenvectors, checkpointed to an .npz as it goes, then resumed from it, and written as an SVG
// contour plot and a ParaView grid. The program checks that the slice's curvature along each axis is the axis's
// eigenvalue, that the resumed run computes nothing and returns the same grid, and shows how far from quadratic
// the loss is across the grid.
// Run: swift run -c release HessianLandscape [OUTPUT_DIR]   (default: .)
import Curvature
import Foundation

let folder = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? ".")
let checkpoint = folder.appendingPathComponent("hessian-landscape.npz").path
try? FileManager.default.removeItem(atPath: checkpoint)
let settings = LandscapeSettings(objective: ObjectiveSettings(model: "Examples/models/digits_mlp.onnx", data: "digits"), axes: .hessian)
let axes = [GridAxisRequest(count: 21, range: -1...1), GridAxisRequest(count: 21, range: -1...1)]
let run = try LandscapeRun<Double>(settings, grid: axes, resume: checkpoint)
let record = try run.fill(workers: 1) { try $0.write(to: checkpoint) }
let grid = record.grid, slice = run.slice

let (l1, l2) = (record.axisEigenvalues[0], record.axisEigenvalues[1])
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

// The same settings and grid again: the checkpoint holds every point, so nothing is recomputed.
let resumed = try LandscapeRun<Double>(settings, grid: axes, resume: checkpoint)
guard resumed.pointsToDo == 0, try resumed.fill().grid.isIdentical(to: grid) else { fatalError("the resumed grid differs") }
print("resumed from hessian-landscape.npz: \(grid.pointCount) of \(grid.pointCount) points, none recomputed")

let appearance = LandscapeRecord.Appearance(title: "digits MLP along its top two Hessian eigenvectors")
for name in ["hessian-landscape.svg", "hessian-landscape.vts"] {
    try record.write(to: folder.appendingPathComponent(name).path, appearance: appearance)
}
print(String(format: "lambda_1 %.5f, lambda_2 %.5f; wrote hessian-landscape.npz, .svg and .vts", l1, l2))

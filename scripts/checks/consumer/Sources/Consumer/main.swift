// Uses two of Curvature's partial products and the umbrella, each checked against a closed form or a known value.
import Curvature
import Foundation
import HTSR
import LinearAlgebra
import ModelFormats
import Spectra

// Lanczos on diag(1, 2, ..., 50): the top three eigenvalues are 50, 49, 48.
let n = 50
var entries = [Double](repeating: 0, count: n * n)
for i in 0..<n { entries[i * n + i] = Double(i + 1) }
let diagonal = Tensor<Double>(shape: [n, n], scalars: entries)
let top = LanczosSolver(count: 3, end: .largest, tolerance: 1e-10, maxMatvecs: 200, seed: 0).solve(DenseOperator(diagonal))
guard zip(top.eigenvalues, [50.0, 49, 48]).allSatisfy({ abs($0 - $1) < 1e-8 }) else { fatalError("Lanczos: \(top.eigenvalues)") }

// HTSR of a 60x30 layer with singular values 1, 2, ..., 30: lambda_max of W^T W is 900.
var weights = [Double](repeating: 0, count: 60 * 30)
for i in 0..<30 { weights[i * 30 + i] = Double(i + 1) }
let layer = Tensor<Double>(shape: [60, 30], scalars: weights)
let archive = InMemoryArchive(path: "consumer", tensors: [StoredTensor(name: "layer.weight", tensor: layer)])
let report = try await analyzeHTSR(archive)
guard let row = report.layers.first, abs(row.lambdaMax - 900) < 1e-9 else { fatalError("HTSR: \(report.layers)") }
print("consumer: Lanczos top 3 \(top.eigenvalues.map { String(format: "%.6f", $0) }), HTSR lambda_max \(row.lambdaMax)")

// The shipped digits through the umbrella's model loading: 1797 samples, ten classes.
let (objective, _) = try ObjectiveSettings(model: "MODEL_PATH", data: "digits").load(Double.self)
guard objective.sampleCount == 1797 else { fatalError("digits: \(objective.sampleCount) samples") }
print("consumer: digits MLP loss \(String(format: "%.6f", Double(objective.evaluate().loss))) over \(objective.sampleCount) samples")

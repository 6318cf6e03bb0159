// The Hessian spectrum of a model defined in Swift: an MLP trained for a few epochs on the shipped digits, its top
// eigenvalues by Lanczos checked against the dense Hessian's, and its trace by Hutchinson against the exact trace.
// Run: swift run -c release SpectrumOfASwiftModel
import Curvature

let model = Sequential(named: [("hidden", Linear(64, 8)), ("tanh", Activation.tanh), ("out", Linear(8, 10))])
let digits: Dataset<Double> = try DataLoader.load("digits")
let trainer = Trainer<Double>(model: model, loss: .crossEntropy, optimizer: .adam(learningRate: 1e-2), batchSize: 64, epochs: 5, seed: 1)
let trained = trainer.train(parameters: model.makeParameters(seed: 1), data: digits)
// Twelve significant digits: the agreement shows, and the last bits of rounding (which BLAS kernel ran) do not.
func digits12(_ values: [Double]) -> String { values.map { String(format: "%.12g", $0) }.joined(separator: " ") }
print("trained \(trained.parameters.dimension()) parameters, final epoch loss \(digits12([trained.history.last!.loss]))")

// The Hessian of the loss over the first 500 images (a batch, as PyHessian takes one).
let batch = digits.rows(Array(0..<500))
let objective = Objective(model: model, parameters: trained.parameters, loss: .crossEntropy, data: batch)
let hessian = HessianOperator(objective)
let lanczos = LanczosSolver(count: 3, end: .largest, tolerance: 1e-10, maxMatvecs: 1000, seed: 1).solve(hessian)
let dense = try DenseSpectrum.decompose(hessian)  // 610 Hessian-vector products: fine at this size
let exactTop = Array(dense.values.suffix(3).reversed())
print("top eigenvalues (Lanczos, \(lanczos.matvecs) products): \(digits12(lanczos.eigenvalues))")
print("top eigenvalues (dense LAPACK):               \(digits12(exactTop))")
let trace = try TraceEstimator(method: .hutchinson, matvecs: 200, seed: 1).estimate(hessian)
let exactTrace = dense.values.reduce(0, +)
print("trace: Hutchinson \(digits12([trace.estimate])) +- \(String(format: "%.3g", trace.stderr)), exact \(digits12([exactTrace]))")
// The checks this example stands for: Lanczos agrees with LAPACK, the trace estimate with the exact trace.
guard zip(lanczos.eigenvalues, exactTop).allSatisfy({ abs($0 - $1) <= 1e-8 * exactTop[0] }), abs(trace.estimate - exactTrace) <= 4 * trace.stderr else {
    fatalError("the estimates disagree with the dense Hessian")
}

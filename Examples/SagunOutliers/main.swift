// A reproduction of Sagun et al. (2017/2018, "Empirical analysis of the Hessian of over-parametrized neural
// networks"): the Hessian of a classifier trained on C classes has a bulk near zero and about C outliers.
// The bulk-edge rule is CurvatureCriteria's, fixed before this run (docs/spectrum.md): smooth the SLQ nodes, take
// the most massive supported interval, count the resolved Ritz values above it (median over probes).
// Run: swift run -c release SagunOutliers [OUTPUT_DIR]   (default: .)
import Curvature
import Foundation

let folder = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? ".")
let loaded: LoadedModel<Double> = try ModelLoader.load("Examples/models/digits_mlp.onnx")
let digits: Dataset<Double> = try DataLoader.load("digits")
let objective = Objective(model: loaded.model, parameters: loaded.parameters, buffers: loaded.buffers, loss: .crossEntropy, data: digits)
let hessian = HessianOperator(objective)
let density = try DensityEstimator(method: .slq, probes: 4, steps: 100, seed: 0).estimate(hessian)
let criteria = CurvatureCriteria.compute(rules: density.rules, dimension: objective.dimension)
let outliers = criteria.outlierEigenvalues(in: density.rules)
let classes = 10
print("\(objective.dimension) parameters, \(classes) classes, loss \(String(format: "%.6g", objective.evaluate().loss))")
print(String(format: "bulk edge %.4g; %d outliers (median over 4 probes), distinct values: ", criteria.bulkEdge, criteria.outliers) +
      outliers.reversed().map { String(format: "%.4g", $0) }.joined(separator: " "))
print("Sagun et al.: about \(classes) outliers expected; found \(criteria.outliers)")
// "About as many as classes", decided with the rule above before the first run: within 3 of C.
guard abs(criteria.outliers - classes) <= 3 else { fatalError("\(criteria.outliers) outliers is not about \(classes)") }
let plot = LinePlot.spectralDensity(density.density, method: "slq", outliers: outliers, logY: true,
                                    title: "Hessian spectrum of the digits MLP: bulk near 0, \(criteria.outliers) outliers")
try plot.svg().write(to: folder.appendingPathComponent("sagun-outliers.svg"), atomically: true, encoding: .utf8)

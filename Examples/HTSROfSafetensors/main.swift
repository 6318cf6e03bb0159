// HTSR of a safetensors file (any weight file works): alpha per layer, as WeightWatcher reports it, with a
// Marchenko-Pastur fit, and the layers whose alpha is outside [2, 6].
// Run: swift run -c release HTSROfSafetensors [FILE]   (default: Examples/models/digits_mlp.safetensors)
import Curvature
import Foundation

let path = CommandLine.arguments.dropFirst().first ?? "Examples/models/digits_mlp.safetensors"
let archive = try WeightFile.open(URL(fileURLWithPath: path))
var options = HTSROptions()
options.mpFit = true
let report = try await analyzeHTSR(archive, options: options)
for layer in report.layers {
    let alpha = layer.alpha.map { String(format: "%.3f", $0) } ?? "failed"
    let spikes = (layer.marchenkoPastur??.numSpikes).map(String.init) ?? "-"
    print("\(layer.layerID) \(layer.name): \(layer.n)x\(layer.m), alpha \(alpha), lambda_max \(String(format: "%.4g", layer.lambdaMax)), " +
          "MP spikes \(spikes) \(layer.warning)")
}
print("mean alpha \(report.summary.alpha.map { String(format: "%.4f", $0) } ?? "-") over \(report.summary.layers) layers")

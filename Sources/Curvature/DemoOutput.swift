import Foundation
import ModelFormats
import Plotting
import Reporting

extension Demo {
    /// The files, each with what it is, named under `path` as the user gave it (relative stays relative).
    public func write(_ result: Result, to path: String) throws(MessageError) -> [(path: String, description: String)] {
        let folder = try OutputFile.directory(path, option: "--out")
        func shown(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }
        var written: [(path: String, description: String)] = []
        func save(_ name: String, _ text: String, _ what: String) throws(MessageError) {
            try OutputFile.write(text, to: folder.appendingPathComponent(name).path, option: "--out")
            written.append((shown(name), what))
        }
        let tensors = zip(result.parameters.names, result.parameters.tensors).map { StoredTensor(name: $0.0, tensor: $0.1.converted(to: Float.self)) }
        try OutputFile.write(to: folder.appendingPathComponent("model.safetensors").path, option: "--out") {
            try SafetensorsFile.write(tensors, metadata: ["seed": "\(seed)", "epochs": "\(epochs)"], to: $0)
        }
        written.append((shown("model.safetensors"), "the trained weights (float32), for `curvature htsr` and friends"))
        let outliers = result.criteria.outlierEigenvalues(in: result.density.rules)
        try save("density.svg", LinePlot.spectralDensity(result.density.density, method: "slq", outliers: outliers, logY: true,
                                                         title: "Hessian spectral density of the demo CNN").svg(),
                 "the Hessian's spectral density (SLQ), outliers marked")
        let label = "||v|| = 1, Hessian eigenvector"
        try save("landscape.svg", result.landscape.plot(title: "training loss along the top two Hessian eigenvectors",
                                                        xLabel: "a (v1, " + label + ")", yLabel: "b (v2, " + label + ")"),
                 "loss contours on the plane of the top two Hessian eigenvectors")
        try save("landscape.csv", result.landscape.csv(), "the landscape grid: x, y, loss, accuracy per point")
        try save("landscape.vts", result.landscape.vts(), "the same grid as a ParaView structured grid (height log(loss + 0.1))")
        let fitted = result.htsr.layers.filter { $0.alpha != nil }
        try save("alpha.svg", LinePlot.alphaPerLayer(layerIDs: fitted.map(\.layerID), alphas: fitted.compactMap(\.alpha),
                                                     title: "HTSR alpha per layer of the demo CNN").svg(),
                 "HTSR alpha per layer, with the 2 and 6 thresholds")
        return written
    }

    /// What the demo prints: the training, the spectrum table, the HTSR table, the landscape's range and the files.
    public func summary(of result: Result, files: [(path: String, description: String)]) -> String {
        var text = "A CNN (conv 1->8, conv 8->16, linear 64->10; \(result.parameters.dimension()) parameters) trained on the " +
            "shipped digits: \(result.trainSamples) training and \(result.testSamples) test images, Adam, \(epochs) epochs, seed \(seed).\n"
        text += String(format: "Training loss %.4f, test accuracy %.1f%%.\n\n", result.trainLoss, 100 * result.testAccuracy)
        text += "Hessian of the loss over the first \(hessianSamples) training images\n"
        text += Rendering.table(header: ["rank", "eigenvalue", "residual"], rows: zip(result.top.eigenvalues, result.top.residuals).enumerated().map {
            [String($0.offset + 1), String(format: "%.6g", $0.element.0), String(format: "%.1e", $0.element.1)]
        }, rightAligned: [0, 1, 2])
        let c = result.criteria
        text += String(format: "trace %.6g +- %.2g (Hutchinson, %d probes)\n", result.trace.estimate, result.trace.stderr, result.trace.matvecs)
        text += String(format: "density (SLQ, %d probes x %d steps): %d outliers above the bulk edge %.4g\n\n",
                       result.density.probes, result.density.steps, c.outliers, c.bulkEdge)
        text += "HTSR of the trained weights\n"
        text += result.htsr.table()
        let losses = result.landscape.loss
        let centre = losses[losses.count / 2]
        text += String(format: "\nLoss landscape: %dx%d grid over [-%.1f, %.1f]^2 along the top two Hessian eigenvectors; " +
                       "loss %.4f at the centre, %.4f to %.4f over the grid.\n\nFiles\n",
                       result.landscape.x.count, result.landscape.y.count, range, range, centre,
                       losses.min() ?? .nan, losses.max() ?? .nan)
        text += Rendering.table(header: ["file", "what it is"], rows: files.map { [$0.path, $0.description] })
        return text
    }
}

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
        try save("density.svg", densityPlot(result), "the Hessian's spectral density (SLQ), outliers marked")
        try save("landscape.svg", landscapePlot(result), "loss contours on the plane of the top two Hessian eigenvectors")
        try save("landscape.csv", result.landscape.csv(), "the landscape grid: x, y, loss, accuracy per point")
        try save("landscape.vts", result.landscape.vts(), "the same grid as a ParaView structured grid (height log(loss + 0.1))")
        try save("alpha.svg", alphaPlot(result), "HTSR alpha per layer, with the 2 and 6 thresholds")
        try save("report.html", page(of: result).html(), "all of the above on one page, to open in a browser")
        return written
    }

    private func densityPlot(_ result: Result) -> String {
        LinePlot.spectralDensity(result.density.density, method: "slq", outliers: result.criteria.outlierEigenvalues(in: result.density.rules),
                                 logY: true, title: "Hessian spectral density of the demo CNN").svg()
    }

    private func landscapePlot(_ result: Result) -> String {
        let label = "||v|| = 1, Hessian eigenvector"
        return result.landscape.plot(title: "training loss along the top two Hessian eigenvectors",
                                     xLabel: "a (v1, " + label + ")", yLabel: "b (v2, " + label + ")")
    }

    private func alphaPlot(_ result: Result) -> String {
        let fitted = result.htsr.layers.filter { $0.alpha != nil }
        return LinePlot.alphaPerLayer(layerIDs: fitted.map(\.layerID), alphas: fitted.compactMap(\.alpha),
                                      title: "HTSR alpha per layer of the demo CNN").svg()
    }

    private func eigenvalueTable(_ result: Result) -> TableContent {
        TableContent(header: ["rank", "eigenvalue", "residual"], rows: zip(result.top.eigenvalues, result.top.residuals).enumerated().map {
            [String($0.offset + 1), String(format: "%.6g", $0.element.0), String(format: "%.1e", $0.element.1)]
        }, rightAligned: [0, 1, 2])
    }

    private func training(_ result: Result) -> [String] {
        ["A CNN (conv 1->8, conv 8->16, linear 64->10; \(result.parameters.dimension()) parameters) trained on the " +
            "shipped digits: \(result.trainSamples) training and \(result.testSamples) test images, Adam, \(epochs) epochs, seed \(seed).",
         String(format: "Training loss %.4f, test accuracy %.1f%%.", result.trainLoss, 100 * result.testAccuracy)]
    }

    private func estimates(_ result: Result) -> [String] {
        [String(format: "trace %.6g +- %.2g (Hutchinson, %d probes)", result.trace.estimate, result.trace.stderr, result.trace.matvecs),
         String(format: "density (SLQ, %d probes x %d steps): %d outliers above the bulk edge %.4g",
                result.density.probes, result.density.steps, result.criteria.outliers, result.criteria.bulkEdge)]
    }

    private func landscapeLine(_ result: Result) -> String {
        let losses = result.landscape.loss
        return String(format: "Loss landscape: %dx%d grid over [-%.1f, %.1f]^2 along the top two Hessian eigenvectors; " +
                      "loss %.4f at the centre, %.4f to %.4f over the grid.",
                      result.landscape.x.count, result.landscape.y.count, range, range, losses[losses.count / 2],
                      losses.min() ?? .nan, losses.max() ?? .nan)
    }

    /// The demo as one self-contained HTML page: its settings, the training, the Hessian's eigenvalues and density,
    /// HTSR per layer and the landscape, every plot inline.
    public func page(of result: Result) -> HTMLPage {
        let settings = [("seed", String(seed)), ("training", "\(epochs) epochs of Adam, batch \(batchSize), learning rate \(learningRate)"),
                        ("Hessian", "\(hessianSamples) training images, top \(topEigenvalues), \(traceProbes) trace probes, " +
                                    "SLQ \(densityProbes) probes x \(densitySteps) steps"),
                        ("landscape", "\(gridPoints) x \(gridPoints) points over [-\(range), \(range)]^2")]
        return HTMLPage(title: "Curvature demo: a CNN on the digits", settings: settings, sections: [
            HTMLPage.Section("Training", [.text(training(result))]),
            HTMLPage.Section("Hessian of the loss over the first \(hessianSamples) training images",
                             [.table(eigenvalueTable(result)), .text(estimates(result)), .svg(densityPlot(result))]),
            HTMLPage.Section("HTSR of the trained weights", [.table(result.htsr.layerTable), .text([result.htsr.summaryLine]), .svg(alphaPlot(result))]),
            HTMLPage.Section("Loss landscape", [.text([landscapeLine(result)]), .svg(landscapePlot(result))]),
        ])
    }

    /// What the demo prints: the training, the spectrum table, the HTSR table, the landscape's range and the files.
    public func summary(of result: Result, files: [(path: String, description: String)]) -> String {
        var text = training(result).joined(separator: "\n") + "\n\n"
        text += "Hessian of the loss over the first \(hessianSamples) training images\n"
        text += eigenvalueTable(result).text()
        text += estimates(result).joined(separator: "\n") + "\n\n"
        text += "HTSR of the trained weights\n"
        text += result.htsr.table()
        text += "\n" + landscapeLine(result) + "\n\nFiles\n"
        text += Rendering.table(header: ["file", "what it is"], rows: files.map { [$0.path, $0.description] })
        return text
    }
}

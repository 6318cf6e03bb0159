import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Curvature
@testable import CurvatureCLI

@Suite struct DemoCommandTests {
    /// The demo at a small size: it trains, its analyses agree with each other, and every file it writes parses.
    @Test func aSmallDemoTrainsAnalysesAndWritesItsFiles() async throws {
        var demo = Demo()
        demo.epochs = 2
        demo.hessianSamples = 60
        demo.topEigenvalues = 2
        demo.traceProbes = 4
        demo.densityProbes = 1
        demo.densitySteps = 12
        demo.gridPoints = 3
        let digits: Dataset<Double> = try DataLoader.load("digits")
        let result = try await demo.run(digits: digits)
        // conv1 8x1x3x3 + 8, conv2 16x8x3x3 + 16, fc 10x64 + 10.
        #expect(result.parameters.dimension() == 80 + 1168 + 650)
        #expect(result.history.count == 2 && result.history[1].loss < result.history[0].loss)
        #expect(result.top.eigenvalues.count == 2 && result.top.eigenvalues[0] >= result.top.eigenvalues[1])
        #expect(result.top.residuals.allSatisfy { $0 < 1e-3 * result.top.eigenvalues[0] })
        // The grid's centre is the trained point itself: its loss is the training loss, bit for bit.
        #expect(result.landscape.loss[4] == result.trainLoss)
        #expect(result.htsr.layers.map(\.name) == ["conv1", "conv2", "fc"] && result.htsr.layers.map(\.numEvals) == [9, 72, 10])

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try demo.write(result, to: folder.path)
        #expect(files.map { URL(fileURLWithPath: $0.0).lastPathComponent } ==
                ["model.safetensors", "density.svg", "landscape.svg", "landscape.csv", "landscape.vts", "alpha.svg", "report.html"])
        for (path, _) in files where path.hasSuffix(".svg") || path.hasSuffix(".vts") {
            #expect(XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path))).parse(), "\(path)")
        }
        // The page inlines the three plots, each a well-formed SVG document.
        let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        let svgs = page.components(separatedBy: "<svg").dropFirst().map { "<svg" + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        #expect(svgs.count == 3 && svgs.allSatisfy { XMLParser(data: Data($0.utf8)).parse() })
        #expect(page.contains("seed</dt><dd>\(demo.seed)</dd>") && !page.contains("src=\"http") && !page.contains("href=\"http"))
        let weights = try WeightFile.open(folder.appendingPathComponent("model.safetensors"))
        #expect(weights.descriptors.map(\.name) == result.parameters.names)
        let text = demo.summary(of: result, files: files)
        #expect(text.contains("1898 parameters") && text.contains("outliers above the bulk edge") && text.contains("mean alpha"))
    }
}

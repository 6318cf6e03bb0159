import Foundation
import ModelImport
import SpectrumAnalysis
import Spectra
import Testing

private let mlp = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ModelImportTests/Fixtures/mlp.onnx").path

@Suite struct SpectrumAnalysisTests {
    var objective: ObjectiveSettings {
        var settings = ObjectiveSettings(model: mlp, data: "digits")
        settings.dataOptions.limit = 60
        return settings
    }

    func temporaryFile(_ name: String) throws -> (folder: URL, path: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spectrum-analysis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return (folder, folder.appendingPathComponent(name).path)
    }

    @Test func lanczosEqualsTheDenseEigenvaluesAtBothEnds() throws {
        var settings = SpectrumSettings()
        (settings.topK, settings.bottomK) = (3, 2)
        let lanczos = try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self).report
        settings.method = .dense
        let dense = try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self).report
        let (l, d) = (try #require(lanczos.rows.first), try #require(dense.rows.first))
        let scale = abs(d.topEigenvalues[0])
        for (a, b) in zip(l.topEigenvalues + l.bottomEigenvalues, d.topEigenvalues + d.bottomEigenvalues) {
            #expect(abs(a - b) <= 1e-8 * scale, "\(a) vs \(b)")
        }
        #expect(l.converged && l.matvecs > 0 && d.nParameters == l.nParameters)
    }

    @Test func floatLanczosConvergesToTheDenseEigenvaluesWithinFloatsDefaultTolerance() throws {
        var settings = SpectrumSettings()
        settings.topK = 3
        #expect(settings.effectiveTolerance(precision: .float) == 1e-5 && settings.effectiveTolerance(precision: .double) == 1e-8)
        let float = try SpectrumAnalysis(objective: objective, settings: settings).run(Float.self).report
        settings.method = .dense
        let dense = try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self).report
        let (f, d) = (try #require(float.rows.first), try #require(dense.rows.first))
        // Converged means what it says: the residual bound holds, so each eigenvalue is within it of the truth.
        #expect(f.converged && float.tolerance == 1e-5)
        for (a, b) in zip(f.topEigenvalues, d.topEigenvalues) { #expect(abs(a - b) <= 1e-5 * abs(d.topEigenvalues[0]), "\(a) vs \(b)") }
    }

    @Test func anInterruptedRunResumesToTheOneShotResultAndOtherSettingsAreRefused() throws {
        var settings = SpectrumSettings()
        settings.topK = 0
        settings.trace = ProbeBudget(method: .hutchinson, matvecs: 9)
        settings.density = DensitySettings(method: .slq, probes: 5, steps: 8, gridPoints: 50)
        settings.probeBlock = 2
        let analysis = SpectrumAnalysis(objective: objective, settings: settings)
        let oneShot = try analysis.run(Double.self).report
        let (folder, path) = try temporaryFile("resume.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        // Interrupted after the first density block: the progress callback stops the run, as a kill would.
        struct Interrupted: Error {}
        var blocks = 0
        #expect(throws: Interrupted.self) {
            try analysis.run(Double.self, resume: path, progress: { event in
                if case .density = event { blocks += 1; if blocks == 1 { throw Interrupted() } }
            })
        }
        let saved = try JSONDecoder().decode(SpectrumResumeState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(saved.rows.values.first?.density.rules.count == 2 && saved.rows.values.first?.trace.count == 9)
        #expect(try analysis.run(Double.self, resume: path).report.rows == oneShot.rows)

        var other = settings
        other.seed = 1
        #expect(throws: SpectrumError.checkpoint("--resume \(path) was written with different settings (seed); use the same options or another file")) {
            try SpectrumAnalysis(objective: objective, settings: other).run(Double.self, resume: path)
        }
    }

    @Test func progressCarriesTheCurrentResidualsAndALinePerRestart() throws {
        var settings = SpectrumSettings()
        (settings.topK, settings.bottomK) = (3, 2)
        var events: [SpectrumProgress] = []
        let row = try #require(try SpectrumAnalysis(objective: objective, settings: settings)
            .run(Double.self, progress: { events.append($0) }).report.rows.first)
        let products = events.compactMap { if case .eigensolver(_, .largest, let done, _, let residuals, _) = $0 { (done, residuals) } else { nil } }
        // Every product counted (the final residual check takes the three pairs as one block), residuals once the
        // basis holds the three pairs; the bottom end (slower, a 40-vector basis) restarts.
        #expect(zip(products, products.dropFirst()).allSatisfy { $0.0 < $1.0 })
        let bottom = events.compactMap { if case .eigensolver(_, .smallest, let done, _, _, _) = $0 { done } else { nil } }
        #expect(products.last!.0 + bottom.last! == row.matvecs)
        #expect(products.first!.1.isEmpty && products.contains { $0.1.count == 3 && $0.1.contains { $0 > 1e-8 } })
        let messages = events.filter { $0.count == nil }.map(\.description)
        #expect(messages.contains { $0.hasPrefix("lanczos (smallest): restart 1 after 40 products, residuals ") })
        #expect(messages.contains { $0.hasPrefix("lanczos (largest): 3 pairs converged after ") && $0.hasSuffix("repeated eigenvalues") })
        let line = SpectrumProgress.restart(end: .largest, restarts: 2, products: 80, residuals: [3.1e-3, 4.2e-6], tolerance: 1e-5)
        #expect(line.description == "lanczos (largest): restart 2 after 80 products, residuals 3.1e-03 4.2e-06 (tolerance 1.0e-05)")
    }

    @Test func settingsThatMeanNothingAreRefusedByName() {
        var settings = SpectrumSettings()
        settings.topK = 0
        #expect(throws: SpectrumError.setting("nothing to compute: ask for --top-k, --bottom-k, --trace, --diagonal or --density")) {
            try settings.validated()
        }
        settings.bottomK = 1
        settings.method = .power
        #expect(throws: SpectrumError.self) { try settings.validated() }
    }

    /// Counts past what the matrix has are refused up front, or reported as what was done, never silently run.
    @Test func countsPastTheDimensionAreRefusedOrReportedAsTaken() throws {
        var settings = SpectrumSettings()
        settings.topK = 1000
        settings.bottomK = 500
        #expect(throws: SpectrumError.setting("--top-k 1000 and --bottom-k 500 ask for more eigenvalues than the 1482 parameters of all have")) {
            try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self)
        }
        settings.topK = 1
        settings.bottomK = 0
        settings.density = DensitySettings(method: .slq, probes: 1, steps: 5000, gridPoints: 50)
        let density = try #require(try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self).report.rows.first?.density)
        #expect(density.steps <= 1482 && density.steps == density.nodes[0].count && density.matvecs <= 1482)
        settings.density?.gridPoints = SpectrumSettings.maximumGridPoints + 1
        #expect(throws: SpectrumError.setting("--grid-points must be between 2 and 10000000, got 10000001")) { try settings.validated() }
    }
}

@Suite struct ParameterGroupingTests {
    let names = ["embeddings.word.weight", "layer.0.query.weight", "layer.0.query.bias", "layer.0.key.weight", "head"]

    @Test func modulesGatherTheTensorsUpToTheLastDotInOrder() {
        let rows = ParameterGrouping.module.rows(names, label: "all")
        #expect(rows.map(\.0) == ["embeddings.word", "layer.0.query", "layer.0.key", "head"])
        #expect(rows[1].1 == ["layer.0.query.weight", "layer.0.query.bias"])
        #expect(ParameterGrouping.tensor.rows(names, label: "all").count == 5)
        #expect(ParameterGrouping.all.rows(names, label: "weights").map(\.0) == ["weights"])
    }

    /// A checkpoint written before the grouping said `per_layer`; it still resumes as the grouping it meant.
    @Test func settingsWrittenWithPerLayerDecode() throws {
        var settings = SpectrumSettings()
        settings.grouping = .tensor
        var json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(settings)) as! [String: Any]
        #expect(json["grouping"] as? String == "tensor")
        json["grouping"] = nil
        json["per_layer"] = true
        let decoded = try JSONDecoder().decode(SpectrumSettings.self, from: try JSONSerialization.data(withJSONObject: json))
        #expect(decoded.grouping == .tensor)
    }
}

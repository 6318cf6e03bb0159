import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Curvature
@testable import CurvatureCLI

let checkpointPath = repositoryRoot.appendingPathComponent("Tests/ModelFormatsTests/Fixtures/torch/checkpoint.pt").path
let onnxPath = repositoryRoot.appendingPathComponent("Tests/ModelFormatsTests/Fixtures/onnx/cnn.onnx").path

@Suite struct HTSRCommandTests {
    func run(_ arguments: [String]) async throws -> String {
        let command = try #require(try CurvatureCommand.parseAsRoot(["htsr"] + arguments) as? HTSRCommand)
        let report = try await analyzeHTSR(WeightFile.open(URL(fileURLWithPath: command.file)), options: command.options)
        return try command.summary ? report.summary.rendered(as: command.output.format) : report.rendered(as: command.output.format)
    }

    @Test func saveEsdAndPlotWriteEveryLayer() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-htsr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let command = try #require(try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--save-esd", folder.appendingPathComponent("esd").path,
                                                                    "--plot", folder.path]) as? HTSRCommand)
        let report = try await analyzeHTSR(WeightFile.open(URL(fileURLWithPath: checkpointPath)), options: command.options)
        try report.writeSpectra(to: folder.appendingPathComponent("esd").path)
        try report.writePlots(to: folder.path)
        for row in report.layers {
            let stem = HTSRReport.fileStem(row)
            let saved = try NumPyFormat.read(contentsOf: folder.appendingPathComponent("esd/\(stem).npy")).doubles()
            #expect(saved.count == row.numEvals && saved.last == row.lambdaMax && saved == saved.sorted())
            let svg = try String(contentsOf: folder.appendingPathComponent("esd_\(stem).svg"), encoding: .utf8)
            #expect(XMLParser(data: Data(svg.utf8)).parse())
            #expect(svg.contains(">eigenvalue</text>") && svg.contains(">density</text>") && svg.contains("xmin "))
        }
        let alpha = try String(contentsOf: folder.appendingPathComponent("alpha.svg"), encoding: .utf8)
        #expect(XMLParser(data: Data(alpha.utf8)).parse())
        #expect(alpha.contains(">layer_id</text>") && alpha.contains("2: over-trained below") && alpha.contains("6: under-trained above"))
        // The JSON report does not carry the eigenvalues.
        #expect(!(try report.rendered(as: .json)).contains("\"eigenvalues\""))
    }

    @Test func detXAndRandomizationAddTheirColumnsOnlyWhenAsked() async throws {
        let plain = try await run([checkpointPath, "--format", "csv"])
        #expect(!plain.contains("detX"))
        let csv = try await run([checkpointPath, "--format", "csv", "--detx"]).split(separator: "\n")
        #expect(csv[0].hasSuffix(",esd_method,detX_num,detX_val,detX_delta"))
        let cells = csv[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(Int(cells[cells.count - 3]) != nil && Double(cells[cells.count - 2]) != nil)
        let randomized = try await run([checkpointPath, "--format", "csv", "--randomize", "--seed", "7"]).split(separator: "\n")
        #expect(randomized[0].hasSuffix(",esd_method,rand_distance,max_rand_eval,ww_softrank,ww_maxdist"))
        #expect(try await run([checkpointPath, "--format", "csv", "--randomize", "--seed", "7"]).split(separator: "\n") == randomized)
        let json = try await run([checkpointPath, "--format", "json", "--randomize", "--seed", "7"])
        #expect(json.contains("\"version\" : \(HTSRReport.formatVersion)") && json.contains("\"randomize\" : true") && json.contains("\"seed\" : 7") && json.contains("\"ww_softrank\" : "))
    }

    @Test func fitFingersAndMarchenkoPasturAddTheirColumnsOnlyWhenAsked() async throws {
        let plain = try await run([checkpointPath, "--format", "csv"]).split(separator: "\n")[0]
        #expect(!plain.contains("Lambda") && !plain.contains("num_fingers") && !plain.contains("sigma_mp"))
        let all = try await run([checkpointPath, "--format", "csv", "--fit", "tpl", "--fix-fingers", "xmin-peak", "--mp-fit"])
        #expect(all.split(separator: "\n")[0].hasSuffix(",esd_method,Lambda,num_spikes,sigma_mp,mp_q,W_scale,bulk_min,bulk_max,mp_softrank"))
        let fingers = try await run([checkpointPath, "--format", "csv", "--fix-fingers", "clip-xmax"]).split(separator: "\n")
        #expect(fingers[0].hasSuffix(",esd_method,num_fingers,raw_alpha"))
        let json = try await run([checkpointPath, "--format", "json", "--fit", "E_TPL", "--mp-fit"])
        #expect(json.contains("\"fit\" : \"E_TPL\"") && json.contains("\"Lambda\" : ") && json.contains("\"mp_softrank\" : "))
        let table = try await run([checkpointPath, "--fit", "TPL", "--mp-fit"])
        #expect(table.split(separator: "\n")[1].hasSuffix("num_pl_spikes  Lambda  num_spikes  mp_softrank  warning"))
        let summary = try await run([checkpointPath, "--mp-fit", "--summary"])
        #expect(summary.contains("mp_softrank"))
        // A TPL fit's ESD plot draws the truncated law, and still parses with labelled axes.
        let report = try await analyzeHTSR(WeightFile.open(URL(fileURLWithPath: checkpointPath)),
                                           options: { var o = HTSROptions(); o.fit = .truncatedPowerLaw; o.keepEigenvalues = true; return o }())
        let row = try #require(report.layers.first { $0.truncationLambda != nil })
        let svg = LinePlot.empiricalSpectralDensity(eigenvalues: row.eigenvalues!, alpha: row.alpha, xmin: row.xmin,
                                                    truncation: row.truncationLambda, title: "tpl").svg()
        #expect(XMLParser(data: Data(svg.utf8)).parse() && svg.contains("truncated power law, alpha ") && svg.contains(">eigenvalue</text>"))
        // clip-xmax refits a power law, and force renormalises one: neither goes with a truncated power law.
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--fit", "TPL", "--fix-fingers", "clip-xmax"]) }
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--fit", "E_TPL", "--xmax", "force"]) }
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--fit", "lognormal"]) }
    }

    @Test func compareMeasuresPerLayerDistances() async throws {
        let root = repositoryRoot.appendingPathComponent("Examples/models")
        let (final, early) = (root.appendingPathComponent("digits_mlp.safetensors").path,
                              root.appendingPathComponent("trajectory/digits_mlp_epoch05.safetensors").path)
        func compare(_ a: String, _ b: String) async throws -> [HTSRComparison.Row] {
            try await #require(try CurvatureCommand.parseAsRoot(["htsr", "compare", a, b]) as? HTSRCompareCommand).compare().rows
        }
        let same = try await compare(final, final)
        #expect(same.count == 3 && same.allSatisfy { $0.esdDistance == 0 && $0.weightDistance == 0 && $0.alphaDelta == 0 })
        let rows = try await compare(final, early)
        #expect(rows.map(\.name) == ["0", "2", "4"] && rows.allSatisfy { $0.esdDistance > 0 && $0.weightDistance > 0.1 })
        #expect(rows.allSatisfy { abs(($0.alphaA ?? 0) - ($0.alphaB ?? 0) - ($0.alphaDelta ?? .nan)) < 1e-12 })
        let csv = HTSRComparison(rows: rows).csv()
        #expect(csv.hasPrefix("layer_id,name,alpha_a,alpha_b,alpha_delta,lambda_max_a,lambda_max_b,esd_distance,weight_distance\n"))
        // Models with no layer in common are refused.
        await #expect(throws: MessageError.self) { try await compare(final, checkpointPath) }
    }

    @Test func xmaxTakesNoneForceOrMinusK() throws {
        for (text, value) in [("none", PowerLawFit.UpperLimit.none), ("force", .force), ("-3", .dropTop(3))] {
            let command = try #require(try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--xmax", text]) as? HTSRCommand)
            #expect(command.options.upperLimit == value)
        }
        #expect(throws: (any Error).self) { try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--xmax", "3"]) }
    }

    @Test func tableHasWeightWatcherColumnsAndASummaryLine() async throws {
        let output = try await run([checkpointPath])
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines[1].split(separator: " ").prefix(4) == ["layer_id", "name", "N", "M"])
        // Only "*.weight" tensors are candidates: the conv "0" and the linear "4"; "1.weight" is BatchNorm's 1-D scale,
        // listed in its place with the reason.
        #expect(lines[3].hasPrefix("       1  0 ") && lines[5].hasPrefix("       3  4 "))
        #expect(lines[4].hasPrefix("       2  1 ") && lines[4].hasSuffix("skipped: 1-D tensor (norm scale, bias or buffer)"))
        #expect(lines.last!.hasPrefix("2 layers analysed (0 failed fits), 1 tensors skipped"))
    }

    @Test func csvCarriesEveryColumnAndJSONKeepsCapitalisedKeys() async throws {
        let csv = try await run([checkpointPath, "--format", "csv"])
        let header = csv.split(separator: "\n")[0]
        #expect(header.hasPrefix("layer_id,name,kind,slice,conv_layout,conv_layout_from,N,M,Q,rf,num_evals,alpha,alpha_weighted,xmin,xmax,D,sigma,num_pl_spikes,"))
        let json = try await run([checkpointPath, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let first = (object["layers"] as! [[String: Any]])[0]
        #expect(first["N"] != nil && first["D"] != nil && first["num_pl_spikes"] != nil && first["layer_id"] != nil)
        #expect((object["summary"] as! [String: Any])["failed_fits"] as? Int == 0)
    }

    @Test func summaryOnlyAndFilters() async throws {
        let summary = try await run([checkpointPath, "--summary", "--format", "csv"])
        #expect(summary.hasPrefix("layers,failed_fits,skipped,log_norm,alpha,"))
        let filtered = try await run([checkpointPath, "--layers", "^(0|4)$", "--exclude", "^0", "--format", "csv"])
        #expect(filtered.split(separator: "\n").count == 2)  // header + layer 4

    }

    @Test func onnxWeightsComeFromTheGraph() async throws {
        // The exporter folded BatchNorm into the conv, naming its kernel "onnx::Conv_16": still a layer.
        let csv = try await run([onnxPath, "--format", "csv", "--min-evals", "1"])
        let names = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[1] }
        #expect(names == ["4", "onnx::Conv_16"])
    }

    @Test func invalidOptionsAreRejected() {
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--min-evals", "-1"]) }
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["htsr", checkpointPath, "--max-n", "0"]) }
    }
}

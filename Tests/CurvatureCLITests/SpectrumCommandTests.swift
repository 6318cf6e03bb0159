import Foundation
import Testing
import Curvature
@testable import CurvatureCLI

let mlpPath = repositoryRoot.appendingPathComponent("Tests/ModelImportTests/Fixtures/mlp.onnx").path

@Suite struct SpectrumCommandTests {
    func command(_ arguments: [String]) throws -> SpectrumCommand {
        try #require(try CurvatureCommand.parseAsRoot(["spectrum", mlpPath, "--data", "digits", "--limit", "60", "--quiet"] + arguments) as? SpectrumCommand)
    }

    func report(_ arguments: [String]) throws -> SpectrumReport { try command(arguments).compute(Double.self) }

    @Test func traceDensityAndCriteriaReachTheJSON() throws {
        let arguments = ["--top-k", "2", "--trace", "--trace-method", "hutchpp", "--matvecs", "12", "--density", "slq", "--probes", "2",
                         "--steps", "15", "--grid-points", "200", "--format", "json"]
        let json = try report(arguments).rendered(as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let trace = try #require(object["trace"] as? [String: Any])
        #expect(trace["method"] as? String == "hutchpp" && trace["matvecs"] as? Int == 12 && trace["stderr"] is Double)
        let density = try #require(object["density"] as? [String: Any])
        #expect((density["grid"] as? [Double])?.count == 200 && (density["values"] as? [Double])?.count == 200)
        #expect((density["nodes"] as? [[Double]])?.count == 2 && (density["weights"] as? [[Double]])?.first?.count == 15)
        let criteria = try #require(object["criteria"] as? [String: Any])
        for key in ["re", "kh05", "negative_mass", "condition", "outliers", "bulk_edge"] { #expect(criteria[key] != nil, "\(key)") }
    }

    @Test func aResumedRunEqualsAOneShotRun() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("state.json").path
        let arguments = ["--top-k", "0", "--trace", "--matvecs", "9", "--density", "slq", "--probes", "5", "--steps", "8",
                         "--probe-block", "2", "--grid-points", "50"]
        let oneShot = try report(arguments)
        let checkpointed = try report(arguments + ["--resume", file])
        #expect(checkpointed.rows == oneShot.rows)
        // An interruption after the first block: keep only what had been saved by then.
        var state = try JSONDecoder().decode(SpectrumResumeState.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        let key = try #require(state.rows.keys.first)
        #expect(state.rows[key]!.density.rules.count == 5 && state.rows[key]!.trace.count == 9)
        state.rows[key]!.density.rules = Array(state.rows[key]!.density.rules.prefix(2))
        state.rows[key]!.trace = Array(state.rows[key]!.trace.prefix(4))
        try state.write(to: file)
        #expect(try report(arguments + ["--resume", file]).rows == oneShot.rows)
        // Different settings are refused, naming what differs.
        #expect(throws: SpectrumError.self) { try report(arguments.map { $0 == "8" ? "9" : $0 } + ["--resume", file]) }
    }

    @Test func diagonalIsWrittenPerParameterTensor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-diagonal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("diagonal.npz").path
        _ = try report(["--top-k", "0", "--diagonal", path, "--diagonal-method", "xdiag", "--matvecs", "10"])
        let archive = try NumPyArchive(contentsOf: URL(fileURLWithPath: path))
        let names = archive.descriptors.map(\.name)
        #expect(names.contains("net.0.weight") && names.contains("net.0.weight.stderr"))
        let model = try ModelLoader.load(mlpPath, as: Double.self)
        for name in model.parameters.names {
            #expect(archive.descriptors.first { $0.name == name }?.shape == model.parameters[name]!.shape, "\(name)")
        }
    }
}

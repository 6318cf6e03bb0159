import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Curvature
@testable import CurvatureCLI

@Suite struct LandscapeCommandTests {
    func command(_ arguments: [String]) throws -> LandscapeSliceCommand {
        try #require(try CurvatureCommand.parseAsRoot(["landscape", mlpPath, "--data", "digits", "--limit", "60", "--quiet"] + arguments)
            as? LandscapeSliceCommand)
    }

    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-landscape-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func rangesParseWithNegativeNumbersAndCounts() throws {
        let range = try GridRange(parsing: "-1:1:51,-0.5:0.5")
        #expect(range.axes.count == 2 && range.axes[0].lower == -1 && range.axes[0].count == 51 && range.axes[1].upper == 0.5 && range.axes[1].count == nil)
        for bad in ["1:-1", "a:1", "-1:1:1", "-1:1,0:1,0:1", "", "-1", "0:1:100000000"] {
            #expect(throws: MessageError.self, "\(bad)") { try GridRange(parsing: bad) }
        }
        #expect(try command(["--range", "-1:1", "--points", "5"]).range == GridRange(parsing: "-1:1"))
        #expect(try command(["--range=-0.5:1.5,-2:2"]).dimensions == 2)
        #expect(try Shard(parsing: "3/4").index == 3 && GridSize(parsing: "51x21").ny == 21)
        for bad in ["4/4", "-1/2", "1/0", "a/b", "1/2/3"] { #expect(throws: MessageError.self, "\(bad)") { try Shard(parsing: bad) } }
        for bad in ["5xx5", "1x5", "5", "x5", "100000000x2"] { #expect(throws: MessageError.self, "\(bad)") { try GridSize(parsing: bad) } }
    }

    @Test func inconsistentOptionsAreRefused() {
        for arguments in [["--axes", "plane", "--to", "a.safetensors"], ["--axes", "interpolate", "--to", "a.pt", "--norm", "filter"],
                          ["--range", "-1:1", "--grid", "5x5"], ["--grid", "5x5", "--points", "5"], ["--axes", "pca"],
                          ["--out", "grid.png"], ["--trajectory", "a.pt"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try command(arguments) }
        }
    }

    @Test func filesRoundTripAndTheSVGHasLabelledAxes() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let paths = ["npz", "json", "svg", "vts", "csv"].map { folder.appendingPathComponent("grid.\($0)").path }
        let record = try command(["--grid", "4x3", "--test-data", "digits", "--out"] + paths).compute(Double.self)
        #expect(record.grid.missing.isEmpty && record.grid.quantities == ["loss", "accuracy", "test_loss", "test_accuracy"])
        #expect(record.settings.seed == 0 && record.settings.normalization == .filter && record.directionNorms.count == 2)
        for path in paths.prefix(2) {
            let read = try LandscapeRecord.read(path)
            #expect(read.grid.isIdentical(to: record.grid) && read.settings == record.settings && read.directionNorms == record.directionNorms)
        }
        let svg = try String(contentsOfFile: paths[2], encoding: .utf8)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse())
        #expect(svg.contains("class=\"x-label\"") && svg.contains("||d|| = ") && svg.contains("class=\"contour\""))
        let table = record.table()
        #expect(table.contains("4 x 3 grid (values [ny, nx])") && table.contains("12 of 12 points computed"))
    }

    @Test func resumeAndMergeRefuseOtherSettings() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state.json").path
        _ = try command(["--points", "5", "--resume", state]).compute(Double.self)
        #expect(throws: MessageError.self) { try command(["--points", "5", "--seed", "1", "--resume", state]).compute(Double.self) }
        let shards = (0..<2).map { folder.appendingPathComponent("s\($0).npz").path }
        for (index, path) in shards.enumerated() {
            _ = try command(["--points", "5", "--shard", "\(index)/2", "--seed", "\(index)", "--out", path]).compute(Double.self)
        }
        let merge = try #require(try CurvatureCommand.parseAsRoot(["landscape", "merge"] + shards) as? LandscapeMergeCommand)
        #expect(throws: MessageError.self) { try merge.run() }
    }
}

import Foundation
import Testing
@testable import CurvatureCLI

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardized
let digitsPath = repositoryRoot.appendingPathComponent("Examples/data/digits.npz").path

@Suite struct InfoCommandTests {
    func run(_ arguments: [String]) throws -> String {
        let command = try #require(try CurvatureCommand.parseAsRoot(arguments) as? InfoCommand)
        return try command.renderedOutput()
    }

    @Test func tableListsTensorsAndTotals() throws {
        let output = try run(["info", digitsPath])
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasSuffix("digits.npz (npz)"))
        #expect(lines[2] == "name  dtype    shape       elements")
        #expect(lines[4] == "x     float32  (1797, 64)    115008")
        #expect(lines[5] == "y     int64    (1797,)         1797")
        #expect(lines[7] == "2 tensors, 116805 elements, 463.3 KiB")
    }

    @Test func csvAndJSON() throws {
        #expect(try run(["info", digitsPath, "--format", "csv"]) ==
            "name,dtype,shape,element_count\nx,float32,\"(1797, 64)\",115008\ny,int64,\"(1797,)\",1797\n")
        let json = try run(["info", digitsPath, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        #expect(object["tensor_count"] as? Int == 2)
        #expect(object["element_count"] as? Int == 116_805)
        let tensors = object["tensors"] as! [[String: Any]]
        #expect(tensors[0]["shape"] as? [Int] == [1797, 64] && tensors[1]["dtype"] as? String == "int64")
    }

    @Test func missingFileIsAFormatErrorNamingIt() throws {
        let command = try #require(try CurvatureCommand.parseAsRoot(["info", "missing.npz"]) as? InfoCommand)
        #expect { try command.renderedOutput() } throws: { error in
            String(describing: error) == "missing.npz: no such file or directory"
        }
    }

    @Test func badFormatOptionIsAParseError() {
        #expect(throws: (any Error).self) { _ = try CurvatureCommand.parseAsRoot(["info", digitsPath, "--format", "xml"]) }
    }
}

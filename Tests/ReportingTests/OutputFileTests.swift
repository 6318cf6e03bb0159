import Foundation
import Testing
import Reporting

@Suite struct OutputFileTests {
    func scratch() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("output-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func aWriteReplacesTheFileWholeAndLeavesNoTemporary() throws {
        let folder = try scratch()
        let path = folder.appendingPathComponent("out.txt").path
        try OutputFile.write("first", to: path)
        try OutputFile.write("second", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.txt"])
    }

    @Test func aFailedWriteKeepsTheOldFileAndNamesOptionAndPath() throws {
        let folder = try scratch()
        let path = folder.appendingPathComponent("out.txt").path
        try OutputFile.write("old", to: path)
        struct Interrupted: Error {}
        #expect(throws: MessageError.self) {
            try OutputFile.write(to: path, option: "--out") { url in
                try Data("half".utf8).write(to: url)
                throw Interrupted()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.txt"])
        do {
            try OutputFile.write("x", to: folder.appendingPathComponent("missing/out.txt").path, option: "--plot")
            Issue.record("a write into a missing directory must fail")
        } catch {
            #expect(error.description == "--plot cannot write \(folder.path)/missing/out.txt: the directory \(folder.path)/missing does not exist")
        }
    }

    @Test func aDirectoryIsCreatedOrRefusedWithItsOption() throws {
        let folder = try scratch()
        let nested = folder.appendingPathComponent("a/b").path
        #expect(try OutputFile.directory(nested).path == nested)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory) && isDirectory.boolValue)
        try OutputFile.write("file", to: folder.appendingPathComponent("plain").path)
        #expect(throws: MessageError("--save-esd \(folder.path)/plain/x: cannot create the directory: \(folder.path)/plain is not a directory")) {
            try OutputFile.directory(folder.appendingPathComponent("plain/x").path, option: "--save-esd")
        }
    }
}

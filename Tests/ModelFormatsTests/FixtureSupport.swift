import Foundation
import Testing
@testable import ModelFormats

/// A fixture file shipped with the tests.
func fixture(_ relativePath: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(relativePath)
}

/// A fresh directory for files a test writes.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The values the fixture scripts write for a dtype and element count (see scripts/fixtures/*.py).
func fixtureValues(_ dtype: DType, count: Int) -> [Double] {
    (0..<count).map { i in
        switch dtype {
        case .float16, .bfloat16, .float32, .float64: (Double(i) - 5) * 0.5
        case .bool: i % 3 == 0 ? 1 : 0
        case .int8, .int16, .int32, .int64: Double(i % 100 - 50)
        case .uint8, .uint16, .uint32, .uint64: Double(i % 100)
        }
    }
}

/// Expects `body` to throw a `FormatError` of `kind` whose message names `file`; returns the error.
@discardableResult
func expectFormatError(
    _ kind: FormatError.Kind, file: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> FormatError? {
    do {
        try body()
        Issue.record("expected a \(kind) error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FormatError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        if let file { #expect(error.description.contains(file), "\(error)", sourceLocation: sourceLocation) }
        return error
    } catch {
        Issue.record("expected FormatError.\(kind), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Runs `body`: nil when it succeeds, the `FormatError` when it throws one; any other error is recorded as an issue.
func formatError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> FormatError? {
    do {
        try body()
        return nil
    } catch {
        guard let formatError = error as? FormatError else {
            Issue.record("expected FormatError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        return formatError
    }
}

/// What the Python packages hold for each fixture tensor (scripts/fixtures/make_weight_fixtures.py).
let expectedValues: NumPyArchive = try! NumPyArchive(contentsOf: fixture("expected.npz"))

/// Expects every tensor of `archive` named in `names` (default: all) to equal the expected values.
func expectMatchesExpected(
    _ archive: any TensorArchive, prefix: String = "", names: [String]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for name in names ?? archive.descriptors.map(\.name) {
        let tensor = try archive.tensor(named: name)
        let expected = try expectedValues.tensor(named: prefix + name)
        #expect(tensor.shape == expected.shape, "\(name)", sourceLocation: sourceLocation)
        #expect(tensor.doubles() == expected.doubles(), "\(name)", sourceLocation: sourceLocation)
    }
}

/// Builds a safetensors file from a header JSON text and a data buffer.
func safetensorsBytes(header: String, buffer: Data = Data(), declaredLength: UInt64? = nil) -> Data {
    var data = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    data.append(buffer)
    return data
}

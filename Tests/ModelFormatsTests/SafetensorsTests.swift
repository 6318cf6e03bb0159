import Foundation
import Testing
@testable import ModelFormats

@Suite struct SafetensorsTests {
    @Test func readsEveryDTypeWrittenByPython() throws {
        let file = try SafetensorsFile(contentsOf: fixture("safetensors/all_dtypes.safetensors"))
        #expect(file.metadata == ["format": "pt", "source": "make_weight_fixtures.py"])
        for dtype in DType.allCases {
            let tensor = try file.tensor(named: dtype.rawValue)
            #expect(tensor.dtype == dtype && tensor.shape == [2, 3])
            #expect(tensor.doubles() == fixtureValues(dtype, count: 6), "\(dtype)")
        }
        #expect(try file.tensor(named: "scalar").shape == [])
        #expect(try file.tensor(named: "scalar").doubles() == [-2.5])
        #expect(try file.tensor(named: "empty").shape == [0, 4])
        expectFormatError(.missingTensor, file: "all_dtypes.safetensors") { _ = try file.tensor(named: "nope") }
    }

    @Test func roundTripsEveryDTypeAndMetadata() throws {
        let source = try SafetensorsFile(contentsOf: fixture("safetensors/all_dtypes.safetensors"))
        let tensors = try source.allTensors()
        let url = temporaryDirectory().appendingPathComponent("round.safetensors")
        try SafetensorsFile.write(tensors, metadata: ["k": "v \"quoted\"\n"], to: url)
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0, "the data buffer starts 8-byte aligned")
        let reread = try SafetensorsFile(contentsOf: url)
        #expect(reread.metadata == ["k": "v \"quoted\"\n"])
        #expect(try reread.allTensors() == tensors)
        #expect(reread.descriptors.map(\.name) == tensors.map(\.name))
    }

    @Test func shardedCheckpointThroughItsIndexAndDirectory() throws {
        let index = try WeightFile.open(fixture("safetensors/sharded/model.safetensors.index.json"))
        #expect(index.descriptors.count == 9)
        try expectMatchesExpected(index)
        let directory = try WeightFile.open(fixture("safetensors/sharded"))
        #expect(directory.descriptors == index.descriptors)
        #expect(directory.formatName == "sharded safetensors")
    }

    @Test func writerRefusesDuplicateNames() {
        let t = StoredTensor(name: "w", tensor: .init([1.0, 2.0]))
        expectFormatError(.duplicateName) {
            try SafetensorsFile.write([t, t], to: temporaryDirectory().appendingPathComponent("d.safetensors"))
        }
    }
}

@Suite struct SafetensorsBadInputTests {
    func open(_ data: Data) throws { _ = try SafetensorsFile(data: data, file: "bad.safetensors") }

    let validHeader = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func everyPrefixOfAValidFileFailsCleanly() throws {
        let valid = try Data(contentsOf: fixture("safetensors/all_dtypes.safetensors"))
        for length in 0..<valid.count {
            let error = formatError { try open(valid.prefix(length)) }
            #expect(error != nil, "a \(length)-byte prefix opened")
            #expect(error?.file == "bad.safetensors")
        }
    }

    @Test func headerLengthPastTheEndOrNearTwoToThe64() {
        expectFormatError(.truncated, file: "bad.safetensors") {
            try open(safetensorsBytes(header: validHeader, buffer: Data(count: 8), declaredLength: 10_000))
        }
        for length in [UInt64.max, UInt64.max - 7, 1 << 63, UInt64(SafetensorsFile.maximumHeaderLength) + 1] {
            expectFormatError(.invalidHeader) { try open(safetensorsBytes(header: validHeader, declaredLength: length)) }
        }
    }

    @Test func negativeOrOverflowingShapes() {
        let negative = #"{"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}"#
        let error = expectFormatError(.invalidShape) { try open(safetensorsBytes(header: negative, buffer: Data(count: 8))) }
        #expect(error?.tensor == "a")
        let overflow = #"{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#
        expectFormatError(.invalidShape) { try open(safetensorsBytes(header: overflow, buffer: Data(count: 8))) }
        let huge = #"{"a":{"dtype":"F64","shape":[99999999999999999999],"data_offsets":[0,8]}}"#
        expectFormatError(.invalidHeader) { try open(safetensorsBytes(header: huge, buffer: Data(count: 8))) }
    }

    @Test func offsetsOutOfRangeOverlappingOrInconsistent() {
        let cases: [(String, Int)] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4),            // past the end
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8),            // decreasing
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, 12),          // size mismatch
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12),          // gap at the start
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 16),           // trailing bytes
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, 8),
        ]
        for (header, size) in cases {
            expectFormatError(.invalidOffsets, file: "bad.safetensors") {
                try open(safetensorsBytes(header: header, buffer: Data(count: size)))
            }
        }
    }

    @Test func unknownDTypes() {
        for dtype in ["F8_E4M3", "C64", "f32", ""] {
            let header = #"{"a":{"dtype":""# + dtype + #"","shape":[1],"data_offsets":[0,1]}}"#
            let error = expectFormatError(.unsupportedDType) { try open(safetensorsBytes(header: header, buffer: Data(count: 1))) }
            #expect(error?.tensor == "a")
        }
    }

    @Test func invalidJSONAndMissingFields() {
        for header in ["", "{", "[]", "{\"a\":1}", #"{"a":{"dtype":"F32"}}"#, #"{"a":{"dtype":"F32","shape":[1]}}"#,
                       #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, #"{"__metadata__":{"k":1}}"#,
                       #"{"__metadata__":[]}"#, "{\"a\":\"\\ud800\"}", "{} trailing", String(repeating: "[", count: 100)] {
            expectFormatError(.invalidHeader) { try open(safetensorsBytes(header: header)) }
        }
        expectFormatError(.invalidShape) {
            try open(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, buffer: Data(count: 4)))
        }
    }

    @Test func duplicateNamesAreNamed() {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let error = expectFormatError(.duplicateName, file: "bad.safetensors") {
            try open(safetensorsBytes(header: header, buffer: Data(count: 8)))
        }
        #expect(error?.tensor == "w")
    }

    @Test func shardIndexProblems() throws {
        let directory = temporaryDirectory()
        let shard = directory.appendingPathComponent("model-1.safetensors")
        try SafetensorsFile.write([StoredTensor(name: "a", tensor: .init([Float(1)]))], to: shard)
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        func write(_ text: String) throws { try Data(text.utf8).write(to: index) }
        try write(#"{"weight_map":{"a":"model-1.safetensors","b":"model-1.safetensors"}}"#)
        let missing = expectFormatError(.missingTensor) { _ = try WeightFile.open(index) }
        #expect(missing?.tensor == "b")
        try write(#"{"weight_map":{"a":"../outside.safetensors"}}"#)
        expectFormatError(.invalidHeader) { _ = try WeightFile.open(index) }
        try write(#"{"weight_map":{"a":"model-2.safetensors"}}"#)
        expectFormatError(.unreadable, file: "model-2.safetensors") { _ = try WeightFile.open(index) }
        try write(#"{"weights":{}}"#)
        expectFormatError(.invalidHeader) { _ = try WeightFile.open(index) }
    }
}

@Suite struct SafetensorsLazyReadTests {
    @Test func fileTruncatedAfterOpeningIsAnErrorNotACrash() throws {
        let url = temporaryDirectory().appendingPathComponent("shrinks.safetensors")
        let tensors = (0..<3).map { StoredTensor(name: "w\($0)", tensor: .init([Float](repeating: Float($0), count: 1000))) }
        try SafetensorsFile.write(tensors, to: url)
        let file = try SafetensorsFile(contentsOf: url)
        #expect(try file.tensor(named: "w0") == tensors[0])
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 2000)
        try handle.close()
        let error = expectFormatError(.truncated, file: "shrinks.safetensors") { _ = try file.tensor(named: "w2") }
        #expect(error?.reason.contains("truncated") == true)
    }
}

import Testing
@testable import Reporting

@Suite struct SnakeCaseKeyTests {
    @Test(arguments: [("tensorCount", "tensor_count"), ("layerID", "layer_id"), ("nParameters", "n_parameters"),
                      ("onnxURLPath", "onnx_url_path"), ("kh05", "kh05"), ("logNorm", "log_norm"), ("N", "N"),
                      ("already_snake", "already_snake"), ("x", "x")])
    func camelCaseBecomesSnakeCaseWithAcronymsAsOneWord(key: String, expected: String) {
        #expect(SnakeCaseKey(key).stringValue == expected)
    }
}

@Suite struct PrintableTests {
    @Test func controlCharactersInNamesAreEscapedInTables() {
        #expect(Rendering.printable("layer\n1\u{1B}[31m") == "layer\\n1\\u{1B}[31m")
        #expect(Rendering.printable("plain é name") == "plain é name")
        let table = Rendering.table(header: ["name"], rows: [["a\nb"]])
        #expect(table == "name\n----\na\\nb\n")
    }
}

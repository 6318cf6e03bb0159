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

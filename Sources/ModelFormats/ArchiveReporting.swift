import Foundation
import Reporting

extension ArchiveSummary: Report {
    var rows: [[String]] {
        tensors.map { [$0.name, $0.dtype.rawValue, Rendering.shape($0.shape), String($0.elementCount)] }
    }

    /// The file, an ONNX graph's facts, one line per tensor, and the totals.
    public func table() -> String {
        let table = Rendering.table(header: ["name", "dtype", "shape", "elements"], rows: rows, rightAligned: [3])
        return "\(file) (\(format))\n\n" + (graph.map(Self.graphText) ?? "") + table +
            "\n\(tensorCount) tensors, \(elementCount) elements, \(Rendering.bytes(byteCount))\n"
    }

    /// The tensor rows only; the graph's facts are in the JSON.
    public func csv() -> String { Rendering.csv(header: ["name", "dtype", "shape", "element_count"], rows: rows) }

    /// Opsets, operator counts, inputs and outputs of an ONNX graph, before its initializer table.
    static func graphText(_ graph: ONNXGraphSummary) -> String {
        let opsets = graph.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", ")
        let operators = graph.operators.map { "\($0.op) x\($0.count)" }.joined(separator: ", ")
        let values = { (values: [ONNXGraphSummary.Value]) in
            values.map { "\($0.name): \($0.dtype) [\($0.shape.joined(separator: ", "))]" }.joined(separator: "; ")
        }
        return """
            producer:  \(graph.producer.isEmpty ? "unknown" : graph.producer) (IR version \(graph.irVersion))
            opsets:    \(opsets)
            operators: \(operators)
            inputs:    \(values(graph.inputs))
            outputs:   \(values(graph.outputs))

            initializers:

            """
    }
}

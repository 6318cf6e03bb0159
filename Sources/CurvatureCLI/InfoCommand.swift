import ArgumentParser
import Curvature
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List the tensors in a weight or data file: name, dtype, shape, element count, and totals.",
        discussion: "Supported files: \(WeightFile.supportedExtensions.map { "." + $0 }.joined(separator: ", ")).")

    @Argument(help: "The file to inspect.")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        print(try renderedOutput(), terminator: "")
    }

    /// What `run()` prints: the summary of `file` in the chosen format.
    func renderedOutput() throws -> String {
        try Self.render(ArchiveSummary(WeightFile.open(URL(fileURLWithPath: file))), as: output.format)
    }

    static func render(_ summary: ArchiveSummary, as format: OutputFormat) throws -> String {
        let rows = summary.tensors.map { tensor in
            [tensor.name, tensor.dtype.rawValue, Rendering.shape(tensor.shape),
             String(tensor.elementCount)]
        }
        switch format {
        case .json:
            return try Rendering.json(summary) + "\n"
        case .csv:
            // CSV carries the tensor rows only; the graph's facts are in the JSON.
            return Rendering.csv(header: ["name", "dtype", "shape", "element_count"], rows: rows)
        case .table:
            let table = Rendering.table(header: ["name", "dtype", "shape", "elements"], rows: rows, rightAligned: [3])
            return "\(summary.file) (\(summary.format))\n\n" + (summary.graph.map(renderGraph) ?? "") + table +
                "\n\(summary.tensorCount) tensors, \(summary.elementCount) elements, " +
                "\(Rendering.bytes(summary.byteCount))\n"
        }
    }

    /// Opsets, operator counts, inputs and outputs of an ONNX graph, before its initializer table.
    static func renderGraph(_ graph: ONNXGraphSummary) -> String {
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

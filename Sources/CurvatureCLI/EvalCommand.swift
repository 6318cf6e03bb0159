import ArgumentParser
import Curvature
import Foundation

/// What `curvature eval` reports.
struct EvalReport: Codable, Equatable {
    var model: String
    var data: String
    var weights: String?
    var nSamples: Int
    var nParameters: Int
    var loss: Double
    var accuracy: Double?
    var bnMode: BatchNormMode
    var precision: Precision
    /// The model's BatchNorm was folded into its convolutions before export; it is analysed as given.
    var batchNormFolded: Bool
    /// Parameters and buffers the file stored only as copies of identical tensors, untied.
    var untiedTensors: [ONNXGraphModel.UntiedTensor]
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Loss (cross-entropy) and accuracy of an ONNX model on a data set.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        print(try Self.render(try report(), as: output.format), terminator: "")
    }

    func report() throws -> EvalReport {
        switch modelOptions.precision {
        case .double: try evaluate(Double.self)
        case .float: try evaluate(Float.self)
        }
    }

    func evaluate<Scalar: TensorScalar>(_: Scalar.Type) throws -> EvalReport {
        let (objective, loaded) = try modelOptions.objective(Scalar.self, sharded: true)
        let (loss, accuracy) = objective.evaluate()
        return EvalReport(model: modelOptions.model, data: modelOptions.data, weights: loaded.weightsFile, nSamples: objective.sampleCount,
                          nParameters: objective.dimension, loss: Double(loss), accuracy: accuracy, bnMode: objective.batchNormMode,
                          precision: modelOptions.precision, batchNormFolded: loaded.model.batchNormFolded,
                          untiedTensors: loaded.model.untiedTensors)
    }

    static func render(_ report: EvalReport, as format: OutputFormat) throws -> String {
        let rows: [[String]] = [
            ["model", report.model], ["data", report.data], ["weights", report.weights ?? "(the model's own)"],
            ["n_samples", String(report.nSamples)], ["n_parameters", String(report.nParameters)],
            ["loss", String(format: "%.6f", report.loss)], ["accuracy", report.accuracy.map { String(format: "%.4f", $0) } ?? "-"],
            ["bn_mode", report.bnMode.rawValue], ["precision", report.precision.rawValue],
        ]
        let note = Self.notes(batchNormFolded: report.batchNormFolded, untied: report.untiedTensors)
        switch format {
        case .json: return try Rendering.json(report) + "\n"
        case .csv: return Rendering.csv(header: rows.map(\.[0]), rows: [rows.map(\.[1])])
        case .table: return Rendering.table(header: ["metric", "value"], rows: rows) + note
        }
    }

    /// The table's closing notes on how the file's model differs from the one that was exported.
    static func notes(batchNormFolded: Bool, untied: [ONNXGraphModel.UntiedTensor]) -> String {
        (batchNormFolded ? "note: BatchNorm was folded into the convolutions before export; analysed as given\n" : "")
            + (untied.isEmpty ? "" : "note: the file stored \(untied.count) parameters and buffers only as copies of identical tensors " +
                "(e.g. \(untied[0].name) as \(untied[0].storedAs)); each is analysed as a tensor of its own\n")
    }
}

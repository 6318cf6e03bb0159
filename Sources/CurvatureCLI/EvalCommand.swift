import ArgumentParser
import Curvature
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Loss (cross-entropy, or --loss) and accuracy of an ONNX model on a data set.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try writeToStandardOutput(try report().rendered(as: output.format))
    }

    func report() throws -> Evaluation {
        let settings = try modelOptions.settings()
        switch modelOptions.precision {
        case .double:
            let (objective, loaded) = try modelOptions.objective(Double.self, settings: settings, sharded: true)
            return try Evaluation(objective, loaded: loaded, settings: settings)
        case .float:
            let (objective, loaded) = try modelOptions.objective(Float.self, settings: settings, sharded: true)
            return try Evaluation(objective, loaded: loaded, settings: settings)
        }
    }
}

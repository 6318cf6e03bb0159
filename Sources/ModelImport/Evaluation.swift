import Foundation
import LinearAlgebra
import NeuralNetworks
import Reporting

/// What `curvature eval` reports: the loss (`Loss`, in NeuralNetworks: cross-entropy by default) and accuracy of a model on a data set.
public struct Evaluation: Sendable, Codable, Equatable, Report {
    /// The report's layout version; it changes when a key changes meaning or is renamed.
    public static let formatVersion = 2
    public var version = formatVersion
    public var model: String
    public var data: String
    public var weights: String?
    public var nSamples: Int
    public var nParameters: Int
    public var loss: Double
    /// The loss function: cross-entropy, the causal language-model loss, MSE, or the model's own.
    public var lossFunction: Loss
    /// The fraction of correct predictions: samples for classification, tokens not ignored for token labels.
    public var accuracy: Double?
    public var bnMode: BatchNormMode
    public var precision: Precision
    /// The model's BatchNorm was folded into its convolutions before export; it is analysed as given.
    public var batchNormFolded: Bool
    /// Parameters and buffers the file stored only as copies of identical tensors, untied.
    public var untiedTensors: [ONNXGraphModel.UntiedTensor]

    /// The objective's loss and accuracy over its whole scope, with what the file says about its export. A loss that
    /// is not finite is an error naming the node where the non-finite values start.
    public init<Scalar: TensorScalar>(_ objective: Objective<Scalar>, loaded: LoadedModel<Scalar>, settings: ObjectiveSettings) throws {
        let (loss, accuracy) = objective.evaluate()
        guard loss.isFinite else {
            throw ModelLoader.nonFiniteLoss(loaded, objective.data, batchSize: objective.batchSize, loss: Double(loss))
        }
        model = settings.model
        data = settings.data
        weights = loaded.weightsFile
        nSamples = objective.sampleCount
        nParameters = objective.dimension
        self.loss = Double(loss)
        lossFunction = objective.loss
        self.accuracy = accuracy
        bnMode = objective.batchNormMode
        precision = settings.precision
        batchNormFolded = loaded.batchNormFolded
        untiedTensors = loaded.model.untiedTensors
    }

    var pairs: [[String]] {
        [["model", model], ["data", data], ["weights", weights ?? "(the model's own)"],
         ["n_samples", String(nSamples)], ["n_parameters", String(nParameters)],
         ["loss", String(format: "%.6f", loss)]]
            + (lossFunction == .crossEntropy ? [] : [["loss_function", lossFunction.rawValue]])
            + [["accuracy", accuracy.map { String(format: "%.4f", $0) } ?? "-"], ["bn_mode", bnMode.rawValue], ["precision", precision.rawValue]]
    }

    public func table() -> String {
        Rendering.table(header: ["metric", "value"], rows: pairs) + ExportNotes.text(batchNormFolded: batchNormFolded, untied: untiedTensors)
    }

    public func csv() -> String { Rendering.csv(header: pairs.map(\.[0]), rows: [pairs.map(\.[1])]) }
}

/// How the file's model differs from the one that was exported, as the notes under a report's table.
public enum ExportNotes {
    public static func text(batchNormFolded: Bool, untied: [ONNXGraphModel.UntiedTensor]) -> String {
        (batchNormFolded ? "note: BatchNorm was folded into the convolutions before export; analysed as given\n" : "")
            + (untied.isEmpty ? "" : "note: the file stored \(untied.count) parameters and buffers only as copies of identical tensors " +
                "(e.g. \(untied[0].name) as \(untied[0].storedAs)); each is analysed as a tensor of its own\n")
    }
}

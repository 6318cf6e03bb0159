import ArgumentParser
import Curvature
import Foundation

/// `curvature htsr` with its default `analyze` and `compare`.
struct HTSRCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "htsr",
        abstract: "Heavy-tailed spectral analysis of every weight matrix in a file: power-law alpha per layer.",
        subcommands: [HTSRCommand.self, HTSRCompareCommand.self],
        defaultSubcommand: HTSRCommand.self)
}

/// One layer present in both models.
struct LayerComparison: Codable, Equatable {
    var layerID: Int
    var name: String
    var alphaA: Double?
    var alphaB: Double?
    var alphaDelta: Double?
    var lambdaMaxA: Double
    var lambdaMaxB: Double
    /// Jensen-Shannon distance between the two sorted ESDs, each normalised to sum 1.
    var esdDistance: Double
    /// ||W_A - W_B||_F / ||W_B||_F.
    var weightDistance: Double
}

struct HTSRCompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Per-layer distances between two models of one architecture: weights, spectra and alpha.",
        discussion: """
            For every layer found in both files with the same shape: alpha in each and their difference, \
            lambda_max in each, the Jensen-Shannon distance between the two ESDs (sorted eigenvalues as \
            probability vectors) and the relative Frobenius distance of the weights, ||W_A - W_B|| / ||W_B||.
            """)

    @Argument(help: "The first weight file (A).")
    var first: String
    @Argument(help: "The second weight file (B), the reference of the relative distances.")
    var second: String
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        print(try Self.render(try await compare(), as: output.format), terminator: "")
    }

    func compare() async throws -> [LayerComparison] {
        var options = HTSROptions()
        options.keepEigenvalues = true
        let (a, b) = (try WeightFile.open(URL(fileURLWithPath: first)), try WeightFile.open(URL(fileURLWithPath: second)))
        let (reportA, reportB) = (try await analyzeHTSR(a, options: options), try await analyzeHTSR(b, options: options))
        let layersB = Dictionary(reportB.layers.map { ("\($0.name)|\($0.slice ?? [])", $0) }, uniquingKeysWith: { x, _ in x })
        let shapesB = Dictionary(b.descriptors.map { ($0.name, $0.shape) }, uniquingKeysWith: { x, _ in x })
        var rows: [LayerComparison] = []
        for layer in reportA.layers {
            guard let other = layersB["\(layer.name)|\(layer.slice ?? [])"], let eigenA = layer.eigenvalues, let eigenB = other.eigenvalues,
                  eigenA.count == eigenB.count else { continue }
            let tensorName = a.descriptors.first { $0.name == layer.name + ".weight" }?.name ?? layer.name
            guard let shapeA = a.descriptors.first(where: { $0.name == tensorName })?.shape, shapesB[tensorName] == shapeA else { continue }
            let (wA, wB) = (try a.tensor(named: tensorName).tensor(Double.self), try b.tensor(named: tensorName).tensor(Double.self))
            rows.append(LayerComparison(
                layerID: layer.layerID, name: layer.name, alphaA: layer.alpha, alphaB: other.alpha,
                alphaDelta: layer.alpha.flatMap { x in other.alpha.map { x - $0 } }, lambdaMaxA: layer.lambdaMax, lambdaMaxB: other.lambdaMax,
                esdDistance: jensenShannonDistance(eigenA, eigenB), weightDistance: (wA - wB).norm() / max(wB.norm(), .leastNonzeroMagnitude)))
        }
        guard !rows.isEmpty else {
            throw CommandError("\(first) and \(second) share no layer of the same name and shape")
        }
        return rows
    }

    static func render(_ rows: [LayerComparison], as format: OutputFormat) throws -> String {
        let number = { (v: Double?) in v.map { String(format: "%.4g", $0) } ?? "-" }
        switch format {
        case .json: return try Rendering.json(rows) + "\n"
        case .csv:
            return Rendering.csv(header: ["layer_id", "name", "alpha_a", "alpha_b", "alpha_delta", "lambda_max_a", "lambda_max_b",
                                          "esd_distance", "weight_distance"],
                                 rows: rows.map { r in [String(r.layerID), r.name, r.alphaA.map { "\($0)" } ?? "", r.alphaB.map { "\($0)" } ?? "",
                                                        r.alphaDelta.map { "\($0)" } ?? "", "\(r.lambdaMaxA)", "\(r.lambdaMaxB)",
                                                        "\(r.esdDistance)", "\(r.weightDistance)"] })
        case .table:
            return Rendering.table(header: ["layer_id", "name", "alpha_a", "alpha_b", "alpha_delta", "lambda_max_a", "lambda_max_b",
                                            "esd_distance", "weight_distance"],
                                   rows: rows.map { r in [String(r.layerID), r.name, number(r.alphaA), number(r.alphaB), number(r.alphaDelta),
                                                          number(r.lambdaMaxA), number(r.lambdaMaxB), number(r.esdDistance), number(r.weightDistance)] },
                                   rightAligned: Set([0, 2, 3, 4, 5, 6, 7, 8]))
        }
    }
}

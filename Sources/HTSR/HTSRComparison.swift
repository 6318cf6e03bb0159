import Foundation
import LinearAlgebra
import ModelFormats
import Reporting

/// Per-layer distances between two models of one architecture: what `curvature htsr compare` reports. JSON is the
/// array of rows.
public struct HTSRComparison: Sendable, Equatable, Report {
    /// One layer present in both models with the same shape.
    public struct Row: Sendable, Codable, Equatable {
        public var layerID: Int
        public var name: String
        public var alphaA: Double?
        public var alphaB: Double?
        public var alphaDelta: Double?
        public var lambdaMaxA: Double
        public var lambdaMaxB: Double
        /// Jensen-Shannon distance between the two sorted ESDs, each normalised to sum 1.
        public var esdDistance: Double
        /// ||W_A - W_B||_F / ||W_B||_F.
        public var weightDistance: Double
    }

    public var rows: [Row]

    public init(rows: [Row]) { self.rows = rows }

    /// Analyses both archives (``analyzeHTSR(_:options:base:share:progress:)`` with eigenvalues kept) and pairs their
    /// layers by name and slice; layers whose weights differ in shape are left out. Throws when none pair up.
    public static func compare(_ a: any TensorArchive, _ b: any TensorArchive, options: HTSROptions = HTSROptions()) async throws -> HTSRComparison {
        var options = options
        options.keepEigenvalues = true
        let (reportA, reportB) = (try await analyzeHTSR(a, options: options), try await analyzeHTSR(b, options: options))
        let layersB = Dictionary(reportB.layers.map { ("\($0.name)|\($0.slice ?? [])", $0) }, uniquingKeysWith: { x, _ in x })
        let shapesB = Dictionary(b.descriptors.map { ($0.name, $0.shape) }, uniquingKeysWith: { x, _ in x })
        var rows: [Row] = []
        for layer in reportA.layers {
            guard let other = layersB["\(layer.name)|\(layer.slice ?? [])"], let eigenA = layer.eigenvalues, let eigenB = other.eigenvalues,
                  eigenA.count == eigenB.count else { continue }
            let tensorName = a.descriptors.first { $0.name == layer.name + ".weight" }?.name ?? layer.name
            guard let shapeA = a.descriptors.first(where: { $0.name == tensorName })?.shape, shapesB[tensorName] == shapeA else { continue }
            let (wA, wB) = (try a.tensor(named: tensorName).tensor(Double.self), try b.tensor(named: tensorName).tensor(Double.self))
            rows.append(Row(
                layerID: layer.layerID, name: layer.name, alphaA: layer.alpha, alphaB: other.alpha,
                alphaDelta: layer.alpha.flatMap { x in other.alpha.map { x - $0 } }, lambdaMaxA: layer.lambdaMax, lambdaMaxB: other.lambdaMax,
                esdDistance: jensenShannonDistance(eigenA, eigenB), weightDistance: (wA - wB).norm() / max(wB.norm(), .leastNonzeroMagnitude)))
        }
        guard !rows.isEmpty else { throw MessageError("\(a.path) and \(b.path) share no layer of the same name and shape") }
        return HTSRComparison(rows: rows)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rows)
    }

    static let header = ["layer_id", "name", "alpha_a", "alpha_b", "alpha_delta", "lambda_max_a", "lambda_max_b", "esd_distance", "weight_distance"]

    public func csv() -> String {
        Rendering.csv(header: Self.header, rows: rows.map { r in
            [String(r.layerID), r.name, r.alphaA.map { "\($0)" } ?? "", r.alphaB.map { "\($0)" } ?? "", r.alphaDelta.map { "\($0)" } ?? "",
             "\(r.lambdaMaxA)", "\(r.lambdaMaxB)", "\(r.esdDistance)", "\(r.weightDistance)"]
        })
    }

    public func table() -> String {
        let number = { (v: Double?) in Rendering.number(v, "%.4g") }
        return Rendering.table(header: Self.header, rows: rows.map { r in
            [String(r.layerID), r.name, number(r.alphaA), number(r.alphaB), number(r.alphaDelta),
             number(r.lambdaMaxA), number(r.lambdaMaxB), number(r.esdDistance), number(r.weightDistance)]
        }, rightAligned: Set([0, 2, 3, 4, 5, 6, 7, 8]))
    }
}

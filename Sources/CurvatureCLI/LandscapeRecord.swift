import Curvature
import Foundation

/// Everything that determines a grid's numbers: shards merge and runs resume only under identical settings.
struct LandscapeSettings: Codable, Equatable {
    var model: String
    var weights: String?
    var data: String
    var testData: String?
    var axes: AxisKind
    var normalization: DirectionNormalization
    var biasBn: LowRankPolicy
    var orthogonalize: Bool
    var hessianPair: HessianPair?
    var to: [String]
    var trajectory: [String]
    var directions: String?
    var seed: UInt64
    var bnMode: BatchNormMode
    var precision: Precision
    var batchSize: Int
    var limit: Int?
    var eigenvalueMap: EigenvalueMap?

    enum CodingKeys: String, CodingKey {
        case model, weights, data, testData = "test_data", axes, normalization, biasBn = "bias_bn", orthogonalize
        case hessianPair = "hessian_pair", to, trajectory, directions, seed, bnMode = "bn_mode", precision
        case batchSize = "batch_size", limit, eigenvalueMap = "eigenvalue_map"
    }
}

/// A landscape file's contents: the settings, what the axes are, and the grid (partial while NaN points remain).
/// Written as JSON, and inside .npz as the `metadata` array (UTF-8 JSON without the grid).
struct LandscapeRecord: Codable {
    var settings: LandscapeSettings
    /// ||d_k|| of each axis: a unit eigenvector moves the weights by |a|, a filter-normalised direction by about
    /// |a| ||theta||.
    var directionNorms: [Double]
    /// The Hessian eigenvalue of each axis (hessian axes).
    var axisEigenvalues: [Double]
    /// The fraction of the trajectory's variance along each axis (pca axes).
    var explainedVariance: [Double]
    var landmarks: [Landmark]
    var axisOrder = "values are [ny, nx]: loss[j][i] is the point (x[i], y[j])"
    /// "i/n" for a shard's partial grid.
    var shard: String?
    var grid: LandscapeGrid

    enum CodingKeys: String, CodingKey {
        case settings, directionNorms = "direction_norms", axisEigenvalues = "axis_eigenvalues", explainedVariance = "explained_variance"
        case landmarks, axisOrder = "axis_order", shard, grid
    }

    // MARK: Files

    /// The formats a landscape is written in, by file extension.
    enum FileKind: String, CaseIterable {
        case npz, csv, json, vts, vtp, svg

        init(path: String) throws {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            guard let kind = FileKind(rawValue: ext) else {
                throw CommandError("--out \(path): unknown extension '.\(ext)'; use one of \(FileKind.allCases.map { "." + $0.rawValue }.joined(separator: ", "))")
            }
            self = kind
        }
    }

    /// How a file renders: the surface height for VTK, the quantity and scale for SVG.
    struct Appearance {
        var height = SurfaceHeight()
        var plotQuantity = "loss"
        var title = ""
    }

    /// Writes to a temporary file beside `path` and renames it over, so an interruption leaves the old file whole.
    func write(to path: String, appearance: Appearance) throws {
        let kind = try FileKind(path: path)
        let temporary = path + ".partial-\(getpid())"
        do {
            switch kind {
            case .npz: try NumPyArchive.write(npzTensors(), to: URL(fileURLWithPath: temporary))
            case .json: try Data((try Rendering.json(self) + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            case .csv: try Data(grid.csv().utf8).write(to: URL(fileURLWithPath: temporary))
            case .vts: try Data(grid.vts(height: appearance.height).utf8).write(to: URL(fileURLWithPath: temporary))
            case .vtp: try Data(grid.vtp(height: appearance.height).utf8).write(to: URL(fileURLWithPath: temporary))
            case .svg: try Data(svg(appearance).utf8).write(to: URL(fileURLWithPath: temporary))
            }
            guard rename(temporary, path) == 0 else { throw CommandError(String(cString: strerror(errno))) }
        } catch {
            unlink(temporary)
            throw CommandError("cannot write \(path): \(error)")
        }
    }

    func svg(_ appearance: Appearance) -> String {
        let labels = settings.axes == .pca
            ? zip(["PC1", "PC2"], explainedVariance).map { String(format: "%@ (%.1f%% of the variance)", $0, 100 * $1) }
            : zip(["x", "y"], directionNorms).map { String(format: "%@ (||d|| = %.4g)", $0, $1) }
        let isPath = settings.axes == .pca
        return grid.plot(quantity: appearance.plotQuantity, logarithmic: appearance.height.logarithmic, title: appearance.title,
                         xLabel: labels.first ?? "x", yLabel: labels.count > 1 ? labels[1] : "y",
                         path: isPath ? landmarks : [], points: isPath ? [] : landmarks)
    }

    /// `x`, `y`, every quantity shaped [ny, nx], the direction norms, axis eigenvalues, explained variance,
    /// landmarks ([k, 2]: a, b), the seed (uint64) and `metadata` (UTF-8 JSON of everything but the grid's values).
    func npzTensors() throws -> [StoredTensor] {
        var tensors = [StoredTensor(name: "x", tensor: Tensor(grid.x))]
        if !grid.y.isEmpty { tensors.append(StoredTensor(name: "y", tensor: Tensor(grid.y))) }
        for (name, list) in zip(grid.quantities, grid.values) { tensors.append(StoredTensor(name: name, tensor: Tensor(shape: grid.shape, scalars: list))) }
        tensors.append(StoredTensor(name: "direction_norms", tensor: Tensor(directionNorms)))
        if !axisEigenvalues.isEmpty { tensors.append(StoredTensor(name: "axis_eigenvalues", tensor: Tensor(axisEigenvalues))) }
        if !explainedVariance.isEmpty { tensors.append(StoredTensor(name: "explained_variance", tensor: Tensor(explainedVariance))) }
        if !landmarks.isEmpty {
            tensors.append(StoredTensor(name: "landmarks", tensor: Tensor(shape: [landmarks.count, 2], scalars: landmarks.flatMap { [$0.a, $0.b] })))
        }
        var seed = settings.seed.littleEndian
        tensors.append(StoredTensor(descriptor: TensorDescriptor(name: "seed", dtype: .uint64, shape: []), data: Data(bytes: &seed, count: 8)))
        let json = Data(try Rendering.json(self, userInfo: [LandscapeGrid.axesOnly: true]).utf8)
        tensors.append(StoredTensor(descriptor: TensorDescriptor(name: "metadata", dtype: .uint8, shape: [json.count]), data: json))
        return tensors
    }

    /// Reads a landscape written by `curvature landscape` as .json or .npz.
    static func read(_ path: String) throws -> LandscapeRecord {
        let url = URL(fileURLWithPath: path)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            switch url.pathExtension.lowercased() {
            case "json":
                return try decoder.decode(LandscapeRecord.self, from: try Data(contentsOf: url))
            case "npz":
                let archive = try NumPyArchive(contentsOf: url)
                guard archive.descriptors.contains(where: { $0.name == "metadata" }) else {
                    throw CommandError("not a landscape file written by curvature (it has no 'metadata' array)")
                }
                var record = try decoder.decode(LandscapeRecord.self, from: try archive.tensor(named: "metadata").data)
                for (q, name) in record.grid.quantities.enumerated() {
                    let tensor = try archive.tensor(named: name)
                    guard tensor.shape == record.grid.shape else {
                        throw CommandError("'\(name)' has shape \(tensor.shape), the grid \(record.grid.shape)")
                    }
                    record.grid.values[q] = tensor.doubles()
                }
                return record
            default:
                throw CommandError("only .json and .npz landscapes can be read back")
            }
        } catch let error as DecodingError {
            throw CommandError("\(path): not a landscape file written by curvature (\(describe(error)))")
        } catch let error as CommandError {
            throw CommandError("\(path): \(error.description)")
        } catch let error as FormatError {
            throw CommandError("\(error)")
        } catch {
            throw CommandError("\(path): \(error.localizedDescription)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "no '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            (context.codingPath.map(\.stringValue).joined(separator: ".") + " " + context.debugDescription).trimmingCharacters(in: .whitespaces)
        @unknown default: "\(error)"
        }
    }
}

import Foundation
import LinearAlgebra
import ModelFormats
import ModelImport
import Reporting

/// Everything that determines a grid's numbers besides its coordinates: shards merge and runs resume only under
/// identical settings.
public struct LandscapeSettings: Sendable, Codable, Equatable {
    /// The model, its centre weights, the evaluation data and how it is read and batched.
    public var objective: ObjectiveSettings
    /// A second data set evaluated at every point (test_loss, test_accuracy).
    public var testData: String?
    public var axes: AxisKind
    public var normalization: DirectionNormalization
    /// What rank <= 1 tensors get under filter or layer normalisation.
    public var biasBn: LowRankPolicy
    /// Whether the second random axis is made orthogonal to the first.
    public var orthogonalize: Bool
    /// Hessian axes: which eigenvalue pair.
    public var hessianPair: HessianPair?
    /// interpolate: the checkpoint at a = 1; plane: the checkpoints at (1, 0) and (c, 1).
    public var to: [String]
    /// pca: the training trajectory's checkpoints, oldest first.
    public var trajectory: [String]
    /// file: the directions' file (x/NAME and y/NAME per parameter).
    public var directions: String?
    /// Seed of the random directions and of every Lanczos start vector.
    public var seed: UInt64
    /// The Hessian's lambda_max and lambda_min at every point, when set.
    public var eigenvalueMap: EigenvalueMap?

    /// Random filter-normalised axes (Li et al. 2018) with the biases and BatchNorm scales left in place.
    public init(objective: ObjectiveSettings, axes: AxisKind = .random, normalization: DirectionNormalization? = nil, seed: UInt64 = 0) {
        self.objective = objective
        self.axes = axes
        self.normalization = normalization ?? (axes == .random ? .filter : .none)
        biasBn = .ignore
        orthogonalize = false
        hessianPair = axes == .hessian ? .top : nil
        to = []
        trajectory = []
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case objective, testData = "test_data", axes, normalization, biasBn = "bias_bn", orthogonalize
        case hessianPair = "hessian_pair", to, trajectory, directions, seed, eigenvalueMap = "eigenvalue_map"
    }
}

/// A landscape file's contents: the settings, what the axes are, and the grid (partial while NaN points remain).
/// Written as JSON, and inside .npz as the `metadata` array (UTF-8 JSON without the grid).
public struct LandscapeRecord: Sendable, Codable {
    /// The record's layout; a record of another version is refused rather than misread.
    public static let formatVersion = 2
    public var version = formatVersion
    public var settings: LandscapeSettings
    /// ||d_k|| of each axis: a unit eigenvector moves the weights by |a|, a filter-normalised direction by about
    /// |a| ||theta||.
    public var directionNorms: [Double]
    /// The Hessian eigenvalue of each axis (hessian axes).
    public var axisEigenvalues: [Double]
    /// The fraction of the trajectory's variance along each axis (pca axes).
    public var explainedVariance: [Double]
    public var landmarks: [Landmark]
    public var axisOrder = "values are [ny, nx]: loss[j][i] is the point (x[i], y[j])"
    /// "i/n" for a shard's partial grid.
    public var shard: String?
    public var grid: LandscapeGrid

    public init(settings: LandscapeSettings, directionNorms: [Double], axisEigenvalues: [Double] = [], explainedVariance: [Double] = [],
                landmarks: [Landmark] = [], shard: String? = nil, grid: LandscapeGrid) {
        self.settings = settings
        self.directionNorms = directionNorms
        self.axisEigenvalues = axisEigenvalues
        self.explainedVariance = explainedVariance
        self.landmarks = landmarks
        self.shard = shard
        self.grid = grid
    }

    enum CodingKeys: String, CodingKey {
        case version, settings, directionNorms = "direction_norms", axisEigenvalues = "axis_eigenvalues", explainedVariance = "explained_variance"
        case landmarks, axisOrder = "axis_order", shard, grid
    }

    // MARK: Files

    /// The formats a landscape is written in, by file extension.
    public enum FileKind: String, Sendable, CaseIterable {
        case npz, csv, json, vts, vtp, svg, h5

        public init(path: String) throws(MessageError) {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            guard let kind = FileKind(rawValue: ext) else {
                throw MessageError("\(path): unknown extension '.\(ext)'; use one of \(FileKind.allCases.map { "." + $0.rawValue }.joined(separator: ", "))")
            }
            self = kind
        }
    }

    /// How a file renders: the surface height for VTK, the quantity and scale for SVG.
    public struct Appearance: Sendable {
        public var height: SurfaceHeight
        public var plotQuantity: String
        public var title: String

        public init(height: SurfaceHeight = SurfaceHeight(), plotQuantity: String = "loss", title: String = "") {
            self.height = height
            self.plotQuantity = plotQuantity
            self.title = title
        }
    }

    /// Writes to a temporary file beside `path` and renames it over, so an interruption leaves the old file whole.
    public func write(to path: String, appearance: Appearance = Appearance()) throws(MessageError) {
        let kind = try FileKind(path: path)
        try OutputFile.write(to: path) { url in
            switch kind {
            case .npz: try NumPyArchive.write(npzTensors(), to: url)
            case .json: try Data((try Rendering.json(self) + "\n").utf8).write(to: url)
            case .csv: try Data(grid.csv().utf8).write(to: url)
            case .vts: try Data(grid.vts(height: appearance.height).utf8).write(to: url)
            case .vtp: try Data(grid.vtp(height: appearance.height).utf8).write(to: url)
            case .svg: try Data(svg(appearance).utf8).write(to: url)
            case .h5: try h5(to: url)
            }
        }
    }

    /// The contour plot (2-D) or curve (1-D) of `appearance.plotQuantity`, axes labelled by their norms (or by
    /// the variance they explain for pca axes), with the trajectory drawn or the plane's models marked.
    public func svg(_ appearance: Appearance) -> String {
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
    public func npzTensors() throws -> [StoredTensor] {
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

    /// loss-landscape's surface-file names for the quantities it knows.
    static let lossLandscapeNames = ["loss": "train_loss", "accuracy": "train_acc", "test_loss": "test_loss", "test_accuracy": "test_acc"]

    /// A surface file in loss-landscape's layout (Li et al.), which its `plot_1D.py`, `plot_2D.py` and `h52vtp.py`
    /// read unchanged: `xcoordinates`, `ycoordinates`, and each quantity as `train_loss`, `train_acc`, `test_loss`,
    /// `test_acc` (other quantities under their own names), float64. A 2-D quantity is stored [ny, nx] with
    /// `[j][i]` at `(x[i], y[j])`: the bytes loss-landscape writes (it fills in meshgrid order), in the shape its
    /// `plot_2D.py` contours, so non-square grids plot correctly too. `dir_file` names a direction file the axes came
    /// from; the root attributes `seed` and `curvature_metadata` (the settings as JSON, as in the .npz) record how the
    /// grid was made. Points not computed are NaN (loss-landscape writes -1 before it computes a point).
    func h5(to url: URL) throws {
        var tensors = [StoredTensor(name: "xcoordinates", tensor: Tensor(grid.x))]
        if !grid.y.isEmpty { tensors.append(StoredTensor(name: "ycoordinates", tensor: Tensor(grid.y))) }
        for (name, list) in zip(grid.quantities, grid.values) {
            tensors.append(StoredTensor(name: Self.lossLandscapeNames[name] ?? name, tensor: Tensor(shape: grid.shape, scalars: list)))
        }
        let metadata = try Rendering.json(self, userInfo: [LandscapeGrid.axesOnly: true])
        try HDF5Archive.write(tensors, strings: settings.directions.map { [("dir_file", $0)] } ?? [],
                              attributes: [("seed", String(settings.seed)), ("curvature_metadata", metadata)], to: url)
    }

    /// Reads a landscape written by `curvature landscape` (or ``write(to:appearance:)``) as .json or .npz.
    public static func read(_ path: String) throws(MessageError) -> LandscapeRecord {
        let url = URL(fileURLWithPath: path)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let record: LandscapeRecord
        do {
            switch url.pathExtension.lowercased() {
            case "json":
                record = try decoder.decode(LandscapeRecord.self, from: try Data(contentsOf: url))
            case "npz":
                let archive = try NumPyArchive(contentsOf: url)
                guard archive.descriptors.contains(where: { $0.name == "metadata" }) else {
                    throw MessageError("not a landscape file written by curvature (it has no 'metadata' array)")
                }
                var decoded = try decoder.decode(LandscapeRecord.self, from: try archive.tensor(named: "metadata").data)
                for (q, name) in decoded.grid.quantities.enumerated() {
                    let tensor = try archive.tensor(named: name)
                    guard tensor.shape == decoded.grid.shape else {
                        throw MessageError("'\(name)' has shape \(tensor.shape), the grid \(decoded.grid.shape)")
                    }
                    decoded.grid.values[q] = tensor.doubles()
                }
                record = decoded
            default:
                throw MessageError("only .json and .npz landscapes can be read back")
            }
        } catch let error as DecodingError {
            throw MessageError("\(path): not a landscape file written by this version of curvature (\(describe(error)))")
        } catch let error as MessageError {
            throw MessageError("\(path): \(error.description)")
        } catch let error as FormatError {
            throw MessageError("\(error)")
        } catch {
            throw MessageError("\(path): \(error.localizedDescription)")
        }
        guard record.version == formatVersion else {
            throw MessageError("\(path): landscape format version \(record.version); this curvature reads version \(formatVersion)")
        }
        return record
    }

    /// The partial grids of one run's shards combined: every record must have the same settings and axes. Records of
    /// `--shard i/n` runs must all be of one n, each i once and every i present; a point two records hold must agree
    /// to the bit. A record without a shard (a resume checkpoint) may join them.
    public static func merged(_ records: [(path: String, record: LandscapeRecord)]) throws(MessageError) -> LandscapeRecord {
        guard var merged = records.first?.record else { throw MessageError("no landscape files to merge") }
        for (path, record) in records.dropFirst() where record.settings != merged.settings {
            let changed = record.settings.objective.changedInputs(since: merged.settings.objective)
            if !changed.isEmpty {
                throw MessageError("\(path) was computed over other contents of \(changed.joined(separator: ", ")) than \(records[0].path): they are not shards of one grid")
            }
            throw MessageError("\(path) was computed with other settings than \(records[0].path): they are not shards of one grid")
        }
        var shards: [Int: String] = [:], count: (n: Int, path: String)?
        for (path, record) in records {
            guard let shard = record.shard else { continue }
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2 else { throw MessageError("\(path): shard '\(shard)' is not i/n") }
            if let count, count.n != parts[1] {
                throw MessageError("\(path) is shard \(shard) but \(count.path) is a shard of \(count.n): not one run's shards")
            }
            count = (parts[1], path)
            if let other = shards[parts[0]] { throw MessageError("\(other) and \(path) are both shard \(shard)") }
            shards[parts[0]] = path
        }
        if let count {
            let missing = (0..<count.n).filter { shards[$0] == nil }
            guard missing.isEmpty else {
                throw MessageError("shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(count.n)" }.joined(separator: ", ")) " +
                                   "missing: give every shard's file")
            }
        }
        do { merged.grid = try LandscapeGrid.merged(records.map(\.record.grid)) } catch let error as LandscapeError {
            if case .conflict(let index, _, _, _, _, _) = error { throw MessageError("\(records[index].path): \(error)") }
            throw MessageError("\(error)")
        } catch {
            throw MessageError("\(error)")
        }
        merged.shard = nil
        return merged
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

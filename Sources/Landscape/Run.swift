import Foundation
import LinearAlgebra
import ModelFormats
import ModelImport
import NeuralNetworks
import Reporting

/// The coordinates asked for along one axis: `count` points over `range`, or over the axis kind's default range
/// (-1...1; interpolate -0.5...1.5; plane and pca around their landmarks) when `range` is nil.
public struct GridAxisRequest: Sendable, Codable, Equatable {
    public var range: ClosedRange<Double>?
    public var count: Int

    public init(count: Int = 51, range: ClosedRange<Double>? = nil) {
        self.count = count
        self.range = range
    }
}

/// Several processes dividing a grid's points: this one is `index` of `count`, and `exchange` hands rank 0 every
/// process's packed points (``LandscapeGrid/packed(_:)``), in rank order, and the others nothing.
public struct LandscapeWorkShare: Sendable {
    public var index: Int
    public var count: Int
    public var exchange: @Sendable ([Double]) -> [[Double]]

    public init(index: Int, count: Int, exchange: @escaping @Sendable ([Double]) -> [[Double]]) {
        self.index = index
        self.count = count
        self.exchange = exchange
    }
}

/// What a landscape run reports while it works.
public enum LandscapeProgress: Sendable {
    /// Building the axes over `parameters` parameters and `samples` samples (Lanczos first for Hessian axes).
    case buildingAxes(AxisKind, parameters: Int, samples: Int)
    /// A checkpoint supplied `done` of the grid's `total` points.
    case resumed(path: String, done: Int, total: Int)
    /// `done` of the `total` points this process computes are finished after `seconds`, on `workers` threads.
    case points(done: Int, total: Int, seconds: Double, workers: Int)
}

extension LandscapeProgress: ProgressEvent {
    public var count: ProgressCount? {
        guard case .points(let done, let total, _, _) = self else { return nil }
        return ProgressCount(stage: "landscape", done: done, total: total, unit: "points")
    }
}

extension LandscapeProgress: CustomStringConvertible {
    /// The progress line: rate and time left while points remain, the totals at the end.
    public var description: String {
        switch self {
        case .buildingAxes(let kind, let parameters, let samples):
            "landscape: \(kind.rawValue) axes over \(parameters) parameters, \(samples) samples" +
                (kind == .hessian ? "\nlandscape: Lanczos for the Hessian axes" : "")
        case .resumed(let path, let done, let total):
            "landscape: resuming \(path) with \(done) of \(total) points done"
        case .points(let done, let total, let seconds, let workers) where done == total:
            String(format: "landscape: %d points in %.2f s (%.2f ms per point, %d workers)", total, seconds,
                   1000 * seconds / Double(max(1, total)), workers)
        case .points(let done, let total, let seconds, _):
            String(format: "landscape: %d/%d points, %.2f ms per point, %.0f s left", done, total,
                   1000 * seconds / Double(max(1, done)), seconds / Double(max(1, done)) * Double(total - done))
        }
    }
}

/// A loss-landscape run as a library call: the settings' objective loaded, the axes built, the grid laid out and,
/// with a checkpoint, resumed; ``fill(workers:share:save:progress:)`` then computes the missing points.
///
/// ```swift
/// var settings = LandscapeSettings(objective: ObjectiveSettings(model: "model.onnx", data: "digits"), axes: .hessian)
/// let run = try LandscapeRun<Double>(settings, grid: [GridAxisRequest(count: 21), GridAxisRequest(count: 21)], resume: "grid.npz")
/// let record = try run.fill { try $0.write(to: "grid.npz") }
/// ```
///
/// Every point is the loss over the whole data set at `theta_0 + a d_1 + b d_2` and independent of the others, so
/// the grid does not depend on the number of workers, shards or processes, or on where a run was interrupted.
public struct LandscapeRun<Scalar: TensorScalar>: Sendable {
    /// The settings, the axes' norms, eigenvalues and landmarks, and the grid (NaN where not yet computed).
    public private(set) var record: LandscapeRecord
    /// The function the grid samples.
    public let slice: LandscapeSlice<Scalar>
    /// The directions as named tensors, `x/NAME` and `y/NAME` (what `--save-directions` writes).
    public let directionTensors: [(name: String, tensor: Tensor<Double>)]

    /// - Parameters:
    ///   - settings: the objective, the axes and what each point computes.
    ///   - grid: one request per axis (1-D or 2-D).
    ///   - shard: `(index, count)` when this run computes only the points with `flat index % count == index`.
    ///   - resume: a landscape file of the same settings and grid whose finished points are kept; ignored when absent.
    ///   - progress: told when the axes are being built and when a checkpoint was resumed.
    public init(
        _ settings: LandscapeSettings, grid: [GridAxisRequest], shard: (index: Int, count: Int)? = nil, resume: String? = nil,
        progress: @Sendable (LandscapeProgress) -> Void = { _ in }
    ) throws {
        guard (1...2).contains(grid.count), grid.allSatisfy({ $0.count >= 2 }) else {
            throw MessageError("a landscape has one or two axes of at least 2 points")
        }
        try Self.checkFits(grid, settings: settings)
        // Every landscape file records its inputs' contents, so a resumed or merged grid binds them, not only their
        // paths (a shard's file may be the checkpoint another run resumes from).
        var settings = settings
        var files: [String: String] = [:]
        for (option, paths) in [("--to", settings.to), ("--trajectory", settings.trajectory), ("--directions", settings.directions.map { [$0] } ?? []),
                                ("--test-data", settings.testData.map { [$0] }?.filter { FileManager.default.fileExists(atPath: $0) } ?? [])] {
            for path in paths { files["\(option) \(path)"] = path }
        }
        settings.objective = try settings.objective.digestingInputs(files)
        let (objective, loaded) = try settings.objective.load(Scalar.self)
        let weights = LandscapeAxes.namedTensors(objective.parameters, outputAxes: loaded.model.outputAxes)
        progress(.buildingAxes(settings.axes, parameters: objective.dimension, samples: objective.sampleCount))
        let axes = try Self.axes(settings, count: grid.count, objective: objective, loaded: loaded, weights: weights)
        var testObjective: Objective<Scalar>?
        if let testData = settings.testData {
            var test = objective
            test.data = try settings.objective.dataset(testData, for: loaded)
            testObjective = test
        }
        slice = LandscapeSlice(objective: objective, testObjective: testObjective, directions: axes.directions,
                               eigenvalueMap: settings.eigenvalueMap)
        directionTensors = axes.directionTensors
        let coordinates = grid.enumerated().map { k, request in
            Self.coordinates(request, axis: k, kind: settings.axes, landmarks: axes.landmarks)
        }
        record = LandscapeRecord(settings: settings, directionNorms: axes.norms, axisEigenvalues: axes.eigenvalues,
                                 explainedVariance: axes.explainedVariance, landmarks: axes.landmarks,
                                 shard: shard.map { "\($0.index)/\($0.count)" },
                                 grid: LandscapeGrid(x: coordinates[0], y: coordinates.count > 1 ? coordinates[1] : [], quantities: slice.quantities))
        if let resume, FileManager.default.fileExists(atPath: resume) {
            let saved = try LandscapeRecord.read(resume)
            let changed = record.settings.objective.changedInputs(since: saved.settings.objective)
            guard changed.isEmpty else {
                throw MessageError("--resume \(resume) was written for other contents of \(changed.joined(separator: ", ")) (changed since); remove it or change --resume")
            }
            guard saved.settings == record.settings, saved.grid.x == record.grid.x, saved.grid.y == record.grid.y,
                  saved.grid.quantities == record.grid.quantities else {
                throw MessageError("--resume \(resume) was written with other settings or another grid; remove it or change --resume")
            }
            record.grid = saved.grid
            progress(.resumed(path: resume, done: record.grid.pointCount - record.grid.missing.count, total: record.grid.pointCount))
        }
        self.shard = shard
    }

    private let shard: (index: Int, count: Int)?

    /// Refuses, before anything is allocated, a grid whose values (each quantity as a Double, held about four times
    /// over by the record, the files written and the exchange between workers) need more than half the memory.
    static func checkFits(_ grid: [GridAxisRequest], settings: LandscapeSettings,
                          memory: UInt64 = ProcessInfo.processInfo.physicalMemory) throws(MessageError) {
        let quantities = 2 * (settings.testData == nil ? 1 : 2) + (settings.eigenvalueMap == nil ? 0 : 2)
        var points = 1
        for request in grid {
            let (product, overflow) = points.multipliedReportingOverflow(by: request.count)
            guard !overflow else { throw MessageError("a grid of \(grid.map { String($0.count) }.joined(separator: " x ")) points cannot be counted") }
            points = product
        }
        let (bytes, overflow) = points.multipliedReportingOverflow(by: quantities * 8 * 4)
        guard !overflow, UInt64(bytes) <= memory / 2 else {
            let shape = grid.map { String($0.count) }.joined(separator: " x ")
            throw MessageError("a \(shape) grid is \(points) points: about \(overflow ? "more than 9 EB" : Rendering.bytes(bytes)) for its \(quantities) " +
                               "quantities, more than half of this machine's \(Rendering.bytes(Int(clamping: memory))); use fewer points")
        }
    }

    /// How many points this run still has to compute (its shard's, or all).
    public var pointsToDo: Int {
        record.grid.missing.filter { index in shard.map { index % $0.count == $0.index } ?? true }.count
    }

    /// Computes the missing points, `workers` at a time, and returns the record. `save` sees the record at most once a
    /// second and at the end (rank 0 only under a `share`): a checkpoint written there lets an interrupted run resume.
    ///
    /// With `share`, the processes deal the points in rounds of `4 x count x workers`; after each round rank 0 gathers
    /// them. Every process must call this with the same record.
    public func fill(
        workers: Int = 1, share: LandscapeWorkShare? = nil, save: (LandscapeRecord) throws -> Void = { _ in },
        progress: (LandscapeProgress) -> Void = { _ in }
    ) throws -> LandscapeRecord {
        var record = self.record
        let start = Date()
        var lastSave = Date.distantPast, lastReport = Date.distantPast
        let todo = pointsToDo
        var done = 0
        func checkpoint(_ grid: LandscapeGrid, force: Bool) throws {
            guard share.map({ $0.index == 0 }) ?? true, force || Date().timeIntervalSince(lastSave) > 1 else { return }
            record.grid = grid
            try save(record)
            lastSave = Date()
        }
        func report() {
            guard Date().timeIntervalSince(lastReport) > 0.5 else { return }
            progress(.points(done: done, total: todo, seconds: Date().timeIntervalSince(start), workers: workers))
            lastReport = Date()
        }
        var grid = record.grid
        // One BLAS thread per worker: OpenBLAS threads inside parallel points only fight over the cores.
        try BLASThreads.with(workers > 1 ? 1 : BLASThreads.count) {
            if let share, share.count > 1 {
                let missing = grid.missing
                let round = share.count * workers * 4
                for first in stride(from: 0, to: missing.count, by: round) {
                    let indices = Array(missing[first..<min(first + round, missing.count)])
                    let mine = Set(indices.enumerated().filter { $0.offset % share.count == share.index }.map(\.element))
                    var local = grid
                    try local.fill(points: mine, workers: workers, evaluate: slice.evaluate)
                    for part in share.exchange(local.packed(indices.filter(mine.contains))) { grid.unpack(part) }
                    done += indices.count
                    report()
                    try checkpoint(grid, force: false)
                }
            } else {
                try grid.fill(shard: shard, workers: workers, evaluate: slice.evaluate) { partial in
                    done = min(todo, done + workers)  // each round is `workers` points, the last one fewer
                    report()
                    try checkpoint(partial, force: false)
                }
            }
        }
        try checkpoint(grid, force: true)
        record.grid = grid
        if todo > 0 { progress(.points(done: todo, total: todo, seconds: Date().timeIntervalSince(start), workers: workers)) }
        return record
    }

    /// The coordinates of axis `k`: the request's range, else the kind's default.
    static func coordinates(_ request: GridAxisRequest, axis k: Int, kind: AxisKind, landmarks: [Landmark]) -> [Double] {
        if let range = request.range { return linspace(range.lowerBound, range.upperBound, count: request.count) }
        let values = landmarks.map { k == 0 ? $0.a : $0.b }
        switch kind {
        case .interpolate: return linspace(-0.5, 1.5, count: request.count)
        case .plane: return linspace(values.min()! - 0.5, values.max()! + 0.5, count: request.count)
        case .pca:
            let (low, high) = (values.min()!, values.max()!)
            let pad = max(0.25 * (high - low), 1e-3)
            return linspace(low - pad, high + pad, count: request.count)
        default: return linspace(-1, 1, count: request.count)
        }
    }

    /// The settings' axes at the objective's centre.
    static func axes(
        _ settings: LandscapeSettings, count: Int, objective: Objective<Scalar>, loaded: LoadedModel<Scalar>, weights: [NamedTensor]
    ) throws -> LandscapeAxes {
        func checkpoint(_ file: String) throws -> (parameters: [NamedTensor], buffers: [NamedTensor]) {
            let other = try ModelLoader.replacingWeights(loaded, from: file)
            return (LandscapeAxes.namedTensors(other.parameters, outputAxes: loaded.model.outputAxes), LandscapeAxes.namedTensors(other.buffers))
        }
        let centre = (parameters: weights, buffers: LandscapeAxes.namedTensors(objective.buffers))
        let (seed, normalization, lowRank) = (settings.seed, settings.normalization, settings.biasBn)
        do {
            switch settings.axes {
            case .random:
                return LandscapeAxes.random(weights: weights, count: count, seed: seed, normalization: normalization, lowRank: lowRank,
                                            orthogonalize: settings.orthogonalize)
            case .hessian:
                return LandscapeAxes.hessian(objective, weights: weights, count: count, pair: settings.hessianPair ?? .top, seed: seed,
                                             normalization: normalization, lowRank: lowRank)
            case .gradient:
                return try LandscapeAxes.gradient(objective, weights: weights, count: count, seed: seed, normalization: normalization, lowRank: lowRank)
            case .interpolate:
                guard settings.to.count == 1 else { throw MessageError("interpolate axes take one checkpoint to move to, got \(settings.to.count)") }
                return try LandscapeAxes.interpolation(from: centre, to: try checkpoint(settings.to[0]))
            case .plane:
                guard settings.to.count == 2 else { throw MessageError("a plane takes two more checkpoints, got \(settings.to.count)") }
                return try LandscapeAxes.plane(through: centre, try checkpoint(settings.to[0]), try checkpoint(settings.to[1]))
            case .pca:
                return try LandscapeAxes.pca(trajectory: try settings.trajectory.map { try checkpoint($0).parameters }, centre: weights, count: count)
            case .file:
                guard let path = settings.directions else { throw MessageError("file axes need a directions file") }
                do {
                    let archive = try WeightFile.open(URL(fileURLWithPath: path))
                    let tensors = try Dictionary(archive.descriptors.map { ($0.name, try archive.tensor(named: $0.name).tensor(Double.self)) },
                                                 uniquingKeysWith: { a, _ in a })
                    if LandscapeAxes.isLossLandscapeFile(Array(tensors.keys)) {
                        return try LandscapeAxes.lossLandscapeFile(tensors, weights: weights, count: count)
                    }
                    return try LandscapeAxes.file(tensors, weights: weights, count: count, normalization: normalization, lowRank: lowRank)
                } catch let error as AxesError {
                    throw MessageError("--directions \(path): \(error)")
                }
            }
        } catch let error as AxesError {
            throw MessageError("\(error)")
        }
    }
}

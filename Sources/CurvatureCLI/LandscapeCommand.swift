import ArgumentParser
import Curvature
import Foundation

extension AxisKind: ExpressibleByArgument {}
extension DirectionNormalization: ExpressibleByArgument {}
extension LowRankPolicy: ExpressibleByArgument {}
extension HessianPair: ExpressibleByArgument {}

struct LandscapeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Loss and accuracy on a 1-D or 2-D slice of an ONNX model's weight space, exported to NumPy, CSV, JSON, VTK and SVG.",
        subcommands: [LandscapeSliceCommand.self, LandscapeMergeCommand.self],
        defaultSubcommand: LandscapeSliceCommand.self)
}

/// `lo:hi[:n]` per axis, comma-separated: `-1:1`, `-1:1:51,-0.5:0.5:21`.
struct GridRange: ExpressibleByArgument, Equatable {
    var axes: [(lower: Double, upper: Double, count: Int?)]

    init?(argument: String) {
        var axes: [(Double, Double, Int?)] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard (2...3).contains(fields.count), let lower = Double(fields[0]), let upper = Double(fields[1]), lower.isFinite, upper.isFinite, lower < upper
            else { return nil }
            var count: Int?
            if fields.count == 3 {
                guard let n = Int(fields[2]), n >= 2 else { return nil }
                count = n
            }
            axes.append((lower, upper, count))
        }
        guard (1...2).contains(axes.count) else { return nil }
        self.axes = axes
    }

    static func == (a: GridRange, b: GridRange) -> Bool {
        a.axes.count == b.axes.count && zip(a.axes, b.axes).allSatisfy { $0.lower == $1.lower && $0.upper == $1.upper && $0.count == $1.count }
    }
}

/// `NXxNY`, e.g. 51x51.
struct GridSize: ExpressibleByArgument {
    var nx: Int
    var ny: Int

    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 >= 2 }) else { return nil }
        (nx, ny) = (parts[0], parts[1])
    }
}

/// `i/n`: this process computes the points whose flat index is i modulo n.
struct Shard: ExpressibleByArgument {
    var index: Int
    var count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, (0..<parts[1]).contains(parts[0]) else { return nil }
        (index, count) = (parts[0], parts[1])
    }

    var description: String { "\(index)/\(count)" }
}

/// The options that decide how a landscape file looks (shared by slicing and merging).
struct LandscapeOutputOptions: ParsableArguments {
    @Option(parsing: .upToNextOption, help: "Write the grid to these files, by extension: .npz, .csv, .json, .vts, .vtp (ParaView), .svg.")
    var out: [String] = []
    @Option(help: "The quantity the SVG and the VTK height show: loss, accuracy, test_loss, test_accuracy, lambda_max, lambda_min.")
    var plotQuantity = "loss"
    @Flag(help: "Show the quantity on a log scale: VTK height log(z + 0.1) as Li et al. draw it, SVG colours and contours in log10.")
    var logScale = false
    @Option(help: "Clip the VTK height at this value (Li et al.'s zmax).")
    var zmax: Double?

    func validate() throws {
        for path in out {
            do { _ = try LandscapeRecord.FileKind(path: path) } catch { throw ValidationError("\(error)") }
        }
    }

    func appearance(title: String) -> LandscapeRecord.Appearance {
        .init(height: SurfaceHeight(quantity: plotQuantity, logarithmic: logScale, maximum: zmax), plotQuantity: plotQuantity, title: title)
    }

    func checkQuantity(_ grid: LandscapeGrid) throws {
        guard grid.quantities.contains(plotQuantity) else {
            throw CommandError("--plot-quantity \(plotQuantity): the grid has \(grid.quantities.joined(separator: ", "))")
        }
    }
}

struct LandscapeSliceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slice",
        abstract: "Evaluate the loss (and accuracy) at every point theta_0 + a d_1 (+ b d_2) of a grid.",
        discussion: """
            Axes: random (seeded Gaussian, filter-normalised by default, Li et al. 2018), hessian (unit eigenvectors \
            of (lambda_1, lambda_2) or (lambda_max, lambda_min)), gradient, interpolate (--to FILE: the line to another \
            checkpoint, BatchNorm buffers interpolated too), plane (--to FILE FILE: through three checkpoints), pca \
            (--trajectory FILES: the top principal directions of a training trajectory), file (--directions FILE). \
            Every point is the loss over the whole data set; points are evaluated in parallel (--workers), finished \
            points are saved (--resume), and --shard i/n splits a grid across machines: combine the parts with \
            `curvature landscape merge`.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "A second data set evaluated at every point (test_loss, test_accuracy).")
    var testData: String?
    @Option(help: "Axes: \(AxisKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var axes: AxisKind = .random
    @Option(help: "A 2-D grid of NX x NY points, e.g. 51x51 (the default for 2-D axes).")
    var grid: GridSize?
    @Option(help: "A 1-D slice of N points along the first axis (the default for interpolate: 51).")
    var points: Int?
    @Option(parsing: .unconditional,
            help: "Coordinates lo:hi[:n] per axis, comma-separated, e.g. -1:1 or -1:1:51,-0.5:0.5:21 (default -1:1; interpolate -0.5:1.5; pca around the path).")
    var range: GridRange?
    @Option(help: "Direction normalisation: \(DirectionNormalization.allCases.map(\.rawValue).joined(separator: ", ")) (default: filter for random axes, none otherwise).")
    var norm: DirectionNormalization?
    @Option(help: "Under filter or layer normalisation, what rank <= 1 tensors (biases, BatchNorm scales) get: ignore (zero), copy (d = w) or normalize.")
    var biasBn: LowRankPolicy = .ignore
    @Flag(help: "Make the second random axis orthogonal to the first (Gram-Schmidt).")
    var orthogonalize = false
    @Option(help: "Hessian axes: top (lambda_1, lambda_2) or extremes (lambda_max, lambda_min).")
    var hessianPair: HessianPair = .top
    @Option(parsing: .upToNextOption, help: "interpolate: the checkpoint at a = 1; plane: the checkpoints at (1, 0) and (c, 1) (weight files).")
    var to: [String] = []
    @Option(parsing: .upToNextOption, help: "pca: the training trajectory's checkpoints (weight files, or a glob), oldest first.")
    var trajectory: [String] = []
    @Option(help: "file: an .npz (or safetensors) of directions, x/NAME and y/NAME per parameter, as --save-directions writes.")
    var directions: String?
    @Option(help: "Write the directions used to this .npz (x/NAME, y/NAME).")
    var saveDirections: String?
    @Flag(help: "Also the Hessian's lambda_max and lambda_min at every point (Lanczos; costly).")
    var eigenvalues = false
    @Option(help: "Lanczos products per end for --eigenvalues.")
    var eigenvalueMatvecs = 200
    @Option(help: "Seed of the random directions and of the Lanczos start vectors.")
    var seed: UInt64 = 0
    @Option(help: "Compute only the points whose flat index is i modulo n, e.g. 0/4 (SLURM arrays, GNU parallel); merge the outputs.")
    var shard: Shard?
    @Option(help: "Checkpoint file (.npz or .json): finished points are saved there as they come, and a run with the same settings continues from it.")
    var resume: String?
    @Option(help: "Points evaluated in parallel (default: the number of cores).")
    var workers: Int?
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var files: LandscapeOutputOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if grid != nil && points != nil { throw ValidationError("give --grid (2-D) or --points (1-D), not both") }
        if let points, points < 2 { throw ValidationError("--points must be at least 2") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        guard eigenvalueMatvecs >= 2 else { throw ValidationError("--eigenvalue-matvecs must be at least 2") }
        if let range, range.axes.count != dimensions {
            throw ValidationError("--range has \(range.axes.count) axis(es) for a \(dimensions)-D slice")
        }
        switch axes {
        case .interpolate where to.count != 1: throw ValidationError("--axes interpolate takes one --to checkpoint, got \(to.count)")
        case .plane where to.count != 2: throw ValidationError("--axes plane takes two --to checkpoints, got \(to.count)")
        case .plane where dimensions != 2: throw ValidationError("--axes plane is 2-D: use --grid, not --points")
        case .pca where trajectory.isEmpty: throw ValidationError("--axes pca needs --trajectory checkpoints")
        case .file where directions == nil: throw ValidationError("--axes file needs --directions FILE")
        default: break
        }
        if ![.interpolate, .plane].contains(axes) && !to.isEmpty { throw ValidationError("--to is for --axes interpolate or plane") }
        if axes != .pca && !trajectory.isEmpty { throw ValidationError("--trajectory is for --axes pca") }
        if axes != .random && orthogonalize { throw ValidationError("--orthogonalize is for --axes random (gradient planes are orthogonal already)") }
        if axes != .file && directions != nil { throw ValidationError("--directions is for --axes file") }
        if [.interpolate, .plane, .pca].contains(axes) && norm != nil {
            throw ValidationError("--norm does not apply to --axes \(axes.rawValue): its directions are differences of checkpoints")
        }
        if modelOptions.weightFiles.count > 1 { throw ValidationError("--weights takes one checkpoint here (the centre); use --trajectory for more") }
    }

    var dimensions: Int {
        if grid != nil { return 2 }
        if points != nil { return 1 }
        if let range { return range.axes.count }
        return axes == .interpolate ? 1 : 2
    }

    var normalization: DirectionNormalization { norm ?? (axes == .random ? .filter : .none) }

    func run() throws {
        let record = switch modelOptions.precision {
        case .double: try compute(Double.self)
        case .float: try compute(Float.self)
        }
        print(try LandscapeSummary.render(record, files: files.out, format: output.format), terminator: "")
    }

    func progress(_ message: String) { Progress.line(message, enabled: !quiet) }

    var settings: LandscapeSettings {
        LandscapeSettings(model: modelOptions.model, weights: modelOptions.weightFiles.first, data: modelOptions.data, testData: testData,
                          axes: axes, normalization: normalization, biasBn: biasBn, orthogonalize: orthogonalize,
                          hessianPair: axes == .hessian ? hessianPair : nil, to: to, trajectory: trajectoryFiles, directions: directions,
                          seed: seed, bnMode: modelOptions.bnMode, precision: modelOptions.precision, batchSize: modelOptions.batchSize,
                          limit: modelOptions.limit, eigenvalueMap: eigenvalues ? eigenvalueMap : nil)
    }

    var eigenvalueMap: EigenvalueMap { EigenvalueMap(maxMatvecs: eigenvalueMatvecs, seed: seed) }

    var trajectoryFiles: [String] { ModelOptions.expandingGlobs(trajectory) }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> LandscapeRecord {
        let (objective, loaded) = try modelOptions.objective(Scalar.self)
        let weights = LandscapeAxes.namedTensors(objective.parameters, outputAxes: loaded.model.outputAxes)
        progress("landscape: \(axes.rawValue) axes over \(objective.dimension) parameters, \(objective.sampleCount) samples")
        let built = try buildAxes(objective, loaded: loaded, weights: weights)
        if ProcessGroup.world.size > 1, shard != nil {
            throw CommandError("--shard splits a grid over separate runs; under mpirun the ranks share the grid already (drop --shard)")
        }
        if let saveDirections, ProcessGroup.world.isRoot {
            do { try NumPyArchive.write(built.directionTensors.map { StoredTensor(name: $0.name, tensor: $0.tensor) }, to: URL(fileURLWithPath: saveDirections)) }
            catch { throw CommandError("cannot write --save-directions \(saveDirections): \(error)") }
        }
        var testObjective: Objective<Scalar>?
        if let testData {
            let dataset: Dataset<Scalar> = try DataLoader.load(testData, options: modelOptions.dataOptions)
            try ModelLoader.checkCompatibility(loaded, dataset, source: testData)
            var test = objective
            test.data = dataset
            testObjective = test
        }
        let slice = LandscapeSlice(objective: objective, testObjective: testObjective, directions: built.directions,
                                   eigenvalueMap: eigenvalues ? eigenvalueMap : nil)
        let axesRanges = gridAxes(landmarks: built.landmarks)
        var record = LandscapeRecord(settings: settings, directionNorms: built.norms, axisEigenvalues: built.eigenvalues,
                                     explainedVariance: built.explainedVariance, landmarks: built.landmarks, shard: shard?.description,
                                     grid: LandscapeGrid(x: axesRanges[0], y: axesRanges.count > 1 ? axesRanges[1] : [], quantities: slice.quantities))
        if let resume, FileManager.default.fileExists(atPath: resume) {
            let saved = try LandscapeRecord.read(resume)
            guard saved.settings == record.settings, saved.grid.x == record.grid.x, saved.grid.y == record.grid.y,
                  saved.grid.quantities == record.grid.quantities else {
                throw CommandError("--resume \(resume) was written with other settings or another grid; remove it or change --resume")
            }
            record.grid = saved.grid
            progress("landscape: resuming \(resume) with \(record.grid.pointCount - record.grid.missing.count) of \(record.grid.pointCount) points done")
        }
        try files.checkQuantity(record.grid)
        return try writeGrid(record, slice: slice)
    }

    /// Runs the grid, checkpointing the resume file and the outputs at most once a second, and at the end.
    func writeGrid<Scalar>(_ record: LandscapeRecord, slice: LandscapeSlice<Scalar>) throws -> LandscapeRecord {
        var record = record
        let title = "\(record.grid.quantities.contains(files.plotQuantity) ? files.plotQuantity : "loss") of " +
            "\(URL(fileURLWithPath: modelOptions.model).lastPathComponent) on \(modelOptions.data), \(axes.rawValue) axes"
        let appearance = files.appearance(title: title)
        let targets = (resume.map { [$0] } ?? []) + files.out
        let todo = record.grid.missing.filter { index in shard.map { index % $0.count == $0.index } ?? true }.count
        let workerCount = workers ?? ProcessInfo.processInfo.activeProcessorCount
        let start = Date()
        var lastWrite = Date.distantPast, lastReport = Date.distantPast, done = 0
        func save(_ grid: LandscapeGrid) throws {
            record.grid = grid
            for path in targets { try record.write(to: path, appearance: appearance) }
            lastWrite = Date()
        }
        var grid = record.grid
        let group = ProcessGroup.world
        if group.size > 1 {
            // Under mpirun: rounds of points dealt over the ranks; after each, rank 0 gathers them and checkpoints.
            let missing = grid.missing
            let round = group.size * workerCount * 4
            try BLASThreads.with(workerCount > 1 ? 1 : BLASThreads.count) {
                for start in stride(from: 0, to: missing.count, by: round) {
                    let indices = Array(missing[start..<min(start + round, missing.count)])
                    let mine = Set(indices.enumerated().filter { $0.offset % group.size == group.rank }.map(\.element))
                    var local = grid
                    try local.fill(points: mine, workers: workerCount, evaluate: slice.evaluate)
                    let gathered = group.gather(local.packed(indices.filter(mine.contains)).withUnsafeBytes { Data($0) })
                    for part in gathered {
                        grid.unpack(part.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) })
                    }
                    done += indices.count
                    if group.isRoot, Date().timeIntervalSince(lastWrite) > 1 { try save(grid) }
                }
            }
            if group.isRoot { try save(grid) }
            return record
        }
        // One BLAS thread per worker: OpenBLAS threads inside parallel points only fight over the cores.
        try BLASThreads.with(workerCount > 1 ? 1 : BLASThreads.count) {
            try grid.fill(shard: shard.map { ($0.index, $0.count) }, workers: workerCount, evaluate: slice.evaluate) { partial in
                done = min(todo, done + workerCount)  // each round is workerCount points, the last one fewer
                if Date().timeIntervalSince(lastReport) > 0.5 {
                    let elapsed = Date().timeIntervalSince(start)
                    progress(String(format: "landscape: %d/%d points, %.2f ms per point, %.0f s left", done, todo,
                                    1000 * elapsed / Double(done), elapsed / Double(done) * Double(todo - done)))
                    lastReport = Date()
                }
                if Date().timeIntervalSince(lastWrite) > 1 { try save(partial) }
            }
        }
        try save(grid)
        let elapsed = Date().timeIntervalSince(start)
        if todo > 0 { progress(String(format: "landscape: %d points in %.2f s (%.2f ms per point, %d workers)", todo, elapsed, 1000 * elapsed / Double(todo), workerCount)) }
        return record
    }

    /// The grid's coordinates: --range (and its counts), else the axes' defaults, with --grid or --points counts.
    func gridAxes(landmarks: [Landmark]) -> [[Double]] {
        let counts = grid.map { [$0.nx, $0.ny] } ?? [points ?? 51, 51]
        return (0..<dimensions).map { k in
            if let axis = range?.axes[k] { return linspace(axis.lower, axis.upper, count: axis.count ?? counts[k]) }
            switch axes {
            case .interpolate: return linspace(-0.5, 1.5, count: counts[k])
            case .plane:
                let values = landmarks.map { k == 0 ? $0.a : $0.b }
                return linspace(values.min()! - 0.5, values.max()! + 0.5, count: counts[k])
            case .pca:
                let values = landmarks.map { k == 0 ? $0.a : $0.b }
                let (low, high) = (values.min()!, values.max()!)
                let pad = max(0.25 * (high - low), 1e-3)
                return linspace(low - pad, high + pad, count: counts[k])
            default: return linspace(-1, 1, count: counts[k])
            }
        }
    }

    func buildAxes<Scalar: TensorScalar>(_ objective: Objective<Scalar>, loaded: LoadedModel<Scalar>, weights: [NamedTensor]) throws -> LandscapeAxes {
        let count = dimensions
        func checkpoint(_ file: String) throws -> (parameters: [NamedTensor], buffers: [NamedTensor]) {
            let other = try ModelLoader.replacingWeights(loaded, from: file)
            return (LandscapeAxes.namedTensors(other.parameters, outputAxes: loaded.model.outputAxes), LandscapeAxes.namedTensors(other.buffers))
        }
        let centre = (parameters: weights, buffers: LandscapeAxes.namedTensors(objective.buffers))
        do {
            switch axes {
            case .random:
                return LandscapeAxes.random(weights: weights, count: count, seed: seed, normalization: normalization, lowRank: biasBn, orthogonalize: orthogonalize)
            case .hessian:
                progress("landscape: Lanczos for the Hessian axes")
                return LandscapeAxes.hessian(objective, weights: weights, count: count, pair: hessianPair, seed: seed, normalization: normalization, lowRank: biasBn)
            case .gradient:
                return try LandscapeAxes.gradient(objective, weights: weights, count: count, seed: seed, normalization: normalization, lowRank: biasBn)
            case .interpolate:
                return try LandscapeAxes.interpolation(from: centre, to: try checkpoint(to[0]))
            case .plane:
                return try LandscapeAxes.plane(through: centre, try checkpoint(to[0]), try checkpoint(to[1]))
            case .pca:
                return try LandscapeAxes.pca(trajectory: try trajectoryFiles.map { try checkpoint($0).parameters }, centre: weights, count: count)
            case .file:
                let archive = try WeightFile.open(URL(fileURLWithPath: directions!))
                let tensors = try Dictionary(archive.descriptors.map { ($0.name, try archive.tensor(named: $0.name).tensor(Double.self)) }, uniquingKeysWith: { a, _ in a })
                return try LandscapeAxes.file(tensors, weights: weights, count: count, normalization: normalization, lowRank: biasBn)
            }
        } catch let error as AxesError {
            throw CommandError(axes == .file ? "--directions \(directions!): \(error)" : "\(error)")
        }
    }
}

struct LandscapeMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the partial grids of `curvature landscape --shard i/n` runs (.npz or .json) into one.")

    @Argument(help: "The shards' landscape files (.npz or .json).")
    var inputs: [String]
    @OptionGroup var files: LandscapeOutputOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give the shards' files") }
    }

    func run() throws {
        let records = try inputs.map(LandscapeRecord.read)
        var merged = records[0]
        for (path, record) in zip(inputs, records).dropFirst() where record.settings != merged.settings {
            throw CommandError("\(path) was computed with other settings than \(inputs[0]): they are not shards of one grid")
        }
        do { merged.grid = try LandscapeGrid.merged(records.map(\.grid)) } catch let error as LandscapeError {
            throw CommandError("\(error)")
        }
        merged.shard = nil
        try files.checkQuantity(merged.grid)
        let title = "\(files.plotQuantity) of \(URL(fileURLWithPath: merged.settings.model).lastPathComponent) on \(merged.settings.data), \(merged.settings.axes.rawValue) axes"
        for path in files.out { try merged.write(to: path, appearance: files.appearance(title: title)) }
        print(try LandscapeSummary.render(merged, files: files.out, format: output.format), terminator: "")
    }
}

/// What a landscape run prints: a few lines for people, the record as JSON, or the long-form CSV.
enum LandscapeSummary {
    static func render(_ record: LandscapeRecord, files: [String], format: OutputFormat) throws -> String {
        switch format {
        case .json: return try Rendering.json(record) + "\n"
        case .csv: return record.grid.csv()
        case .table: break
        }
        let s = record.settings, grid = record.grid
        let number = { (v: Double) in String(format: "%.6g", v) }
        var lines = ["\(s.model) on \(s.data): \(s.axes.rawValue) axes, normalization \(s.normalization.rawValue) (bias-bn \(s.biasBn.rawValue)), " +
                     "seed \(s.seed), bn_mode \(s.bnMode.rawValue), \(s.precision.rawValue)"]
        let axesText = grid.y.isEmpty ? "\(grid.x.count) points, a in [\(number(grid.x.first!)), \(number(grid.x.last!))]"
            : "\(grid.x.count) x \(grid.y.count) grid (values [ny, nx]), a in [\(number(grid.x.first!)), \(number(grid.x.last!))], " +
              "b in [\(number(grid.y.first!)), \(number(grid.y.last!))]"
        let computed = grid.pointCount - grid.missing.count
        lines.append(axesText + "; \(computed) of \(grid.pointCount) points computed" + (record.shard.map { " (shard \($0))" } ?? ""))
        lines.append("direction norms: " + record.directionNorms.map(number).joined(separator: ", ") +
                     (record.axisEigenvalues.isEmpty ? "" : "; axis eigenvalues: " + record.axisEigenvalues.map(number).joined(separator: ", ")) +
                     (record.explainedVariance.isEmpty ? "" : "; explained variance: " + record.explainedVariance.map { String(format: "%.4f", $0) }.joined(separator: ", ")))
        if computed > 0 {
            let centre = (0..<grid.pointCount).min { a, b in
                let (p, q) = (grid.coordinates(a), grid.coordinates(b))
                return p.a * p.a + p.b * p.b < q.a * q.a + q.b * q.b
            }!
            let describe = { (index: Int) -> String in
                let (a, b) = grid.coordinates(index)
                let values = zip(grid.quantities, grid.values).map { "\($0) \(number($1[index]))" }.joined(separator: ", ")
                return "(\(number(a))\(grid.y.isEmpty ? "" : ", \(number(b))")): \(values)"
            }
            let finite = grid.loss.indices.filter { grid.loss[$0].isFinite }
            lines.append("centre " + describe(centre))
            if let low = finite.min(by: { grid.loss[$0] < grid.loss[$1] }) { lines.append("lowest loss at " + describe(low)) }
            if let high = finite.max(by: { grid.loss[$0] < grid.loss[$1] }) { lines.append("highest loss at " + describe(high)) }
        }
        if !files.isEmpty { lines.append("wrote " + files.joined(separator: ", ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}

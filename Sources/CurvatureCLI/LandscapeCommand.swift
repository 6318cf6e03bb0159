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
struct GridRange: Equatable {
    var axes: [(lower: Double, upper: Double, count: Int?)]

    /// At most this many points per axis: a grid's values are held in memory, and 10^7 points along one axis is
    /// already far past any plot.
    static let maximumCount = 10_000_000

    init(parsing argument: String) throws(MessageError) {
        let allowed = "expected lo:hi or lo:hi:n per axis, one or two axes separated by a comma, finite lo < hi and 2 <= n <= \(Self.maximumCount), e.g. -1:1:51,-0.5:0.5:21"
        var axes: [(Double, Double, Int?)] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard (2...3).contains(fields.count), let lower = Double(fields[0]), let upper = Double(fields[1]), lower.isFinite, upper.isFinite, lower < upper
            else { throw MessageError(allowed) }
            var count: Int?
            if fields.count == 3 {
                guard let n = Int(fields[2]), (2...Self.maximumCount).contains(n) else { throw MessageError(allowed) }
                count = n
            }
            axes.append((lower, upper, count))
        }
        guard (1...2).contains(axes.count) else { throw MessageError(allowed) }
        self.axes = axes
    }

    static func == (a: GridRange, b: GridRange) -> Bool {
        a.axes.count == b.axes.count && zip(a.axes, b.axes).allSatisfy { $0.lower == $1.lower && $0.upper == $1.upper && $0.count == $1.count }
    }
}

/// `NXxNY`, e.g. 51x51.
struct GridSize {
    var nx: Int
    var ny: Int

    init(parsing argument: String) throws(MessageError) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let nx = parts[0], let ny = parts[1], (2...GridRange.maximumCount).contains(nx), (2...GridRange.maximumCount).contains(ny) else {
            throw MessageError("expected NXxNY, two whole numbers from 2 to \(GridRange.maximumCount), e.g. 51x51")
        }
        (self.nx, self.ny) = (nx, ny)
    }
}

/// `i/n`: this process computes the points whose flat index is i modulo n.
struct Shard {
    var index: Int
    var count: Int

    init(parsing argument: String) throws(MessageError) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count >= 1, (0..<count).contains(index) else {
            throw MessageError("expected i/n with n >= 1 and 0 <= i < n, e.g. 0/4")
        }
        (self.index, self.count) = (index, count)
    }
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
            do { _ = try LandscapeRecord.FileKind(path: path) } catch { throw ValidationError("--out \(error)") }
        }
    }

    func appearance(title: String) -> LandscapeRecord.Appearance {
        .init(height: SurfaceHeight(quantity: plotQuantity, logarithmic: logScale, maximum: zmax), plotQuantity: plotQuantity, title: title)
    }

    /// The record in `format`; the table adds the files written.
    func rendered(_ record: LandscapeRecord, as format: ReportFormat) throws -> String {
        try record.rendered(as: format) + (format == .table && !out.isEmpty ? "wrote " + out.joined(separator: ", ") + "\n" : "")
    }

    func checkQuantity(_ grid: LandscapeGrid) throws {
        guard grid.quantities.contains(plotQuantity) else {
            throw MessageError("--plot-quantity \(plotQuantity): the grid has \(grid.quantities.joined(separator: ", "))")
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
    @Option(help: "A 2-D grid of NX x NY points, e.g. 51x51 (the default for 2-D axes).", transform: GridSize.init(parsing:))
    var grid: GridSize?
    @Option(help: "A 1-D slice of N points along the first axis (the default for interpolate: 51).")
    var points: Int?
    @Option(parsing: .unconditional,
            help: "Coordinates lo:hi[:n] per axis, comma-separated, e.g. -1:1 or -1:1:51,-0.5:0.5:21 (default -1:1; interpolate -0.5:1.5; pca around the path).",
            transform: GridRange.init(parsing:))
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
    @Option(help: "Compute only the points whose flat index is i modulo n, e.g. 0/4 (SLURM arrays, GNU parallel); merge the outputs.",
            transform: Shard.init(parsing:))
    var shard: Shard?
    @Option(help: "Checkpoint file (.npz or .json): finished points are saved there as they come, and a run with the same settings continues from it.")
    var resume: String?
    @Option(help: "Points evaluated in parallel (default: the number of cores).")
    var workers: Int?
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var files: LandscapeOutputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var page: ReportPageOptions

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

    func run() throws {
        let record = switch modelOptions.precision {
        case .double: try compute(Double.self)
        case .float: try compute(Float.self)
        }
        try page.write(record.page(appearance: files.appearance(title: plotTitle(record))))
        try writeToStandardOutput(try files.rendered(record, as: output.format))
    }

    func plotTitle(_ record: LandscapeRecord) -> String {
        "\(record.grid.quantities.contains(files.plotQuantity) ? files.plotQuantity : "loss") of " +
            "\(URL(fileURLWithPath: modelOptions.model).lastPathComponent) on \(modelOptions.data), \(axes.rawValue) axes"
    }

    func settings() throws -> LandscapeSettings {
        var settings = LandscapeSettings(objective: try modelOptions.settings(), axes: axes, normalization: norm, seed: seed)
        settings.testData = testData
        settings.biasBn = biasBn
        settings.orthogonalize = orthogonalize
        settings.hessianPair = axes == .hessian ? hessianPair : nil
        settings.to = to
        settings.trajectory = expandingGlobs(trajectory)
        settings.directions = directions
        settings.eigenvalueMap = eigenvalues ? EigenvalueMap(maxMatvecs: eigenvalueMatvecs, seed: seed) : nil
        return settings
    }

    /// --range (and its counts), else --grid or --points counts over the axes' default ranges.
    var gridRequest: [GridAxisRequest] {
        let counts = grid.map { [$0.nx, $0.ny] } ?? [points ?? 51, 51]
        return (0..<dimensions).map { k in
            let axis = range?.axes[k]
            return GridAxisRequest(count: axis?.count ?? counts[k], range: axis.map { $0.lower...$0.upper })
        }
    }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> LandscapeRecord {
        let group = ProcessGroup.world
        if group.size > 1, shard != nil {
            throw MessageError("--shard splits a grid over separate runs; under mpirun the ranks share the grid already (drop --shard)")
        }
        let progress = ProgressDisplay(quiet: quiet)
        defer { progress.finish() }
        let settings = try settings()
        let run = try group.agreeing {
            try LandscapeRun<Scalar>(settings, grid: gridRequest, shard: shard.map { ($0.index, $0.count) }, resume: resume) { event in
                progress.show(event)
            }
        }
        if let saveDirections, group.isRoot {
            let tensors = run.directionTensors.map { StoredTensor(name: $0.name, tensor: $0.tensor) }
            try OutputFile.write(to: saveDirections, option: "--save-directions") { try NumPyArchive.write(tensors, to: $0) }
        }
        try files.checkQuantity(run.record.grid)
        let appearance = files.appearance(title: plotTitle(run.record))
        let targets = (resume.map { [$0] } ?? []) + files.out
        let workerCount = workers ?? ProcessInfo.processInfo.activeProcessorCount
        return try run.fill(workers: workerCount, share: group.landscapeShare, save: { record in
            for path in targets { try record.write(to: path, appearance: appearance) }
        }, progress: { event in progress.show(event) })
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
        let merged = try LandscapeRecord.merged(try inputs.map { (path: $0, record: try LandscapeRecord.read($0)) })
        try files.checkQuantity(merged.grid)
        let settings = merged.settings
        let title = "\(files.plotQuantity) of \(URL(fileURLWithPath: settings.objective.model).lastPathComponent) on \(settings.objective.data), \(settings.axes.rawValue) axes"
        for path in files.out { try merged.write(to: path, appearance: files.appearance(title: title)) }
        try writeToStandardOutput(try files.rendered(merged, as: output.format))
    }
}

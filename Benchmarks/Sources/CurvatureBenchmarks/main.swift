// Micro-benchmarks printed as one line per measurement: "swift <name> <key=value>...".
// Usage: CurvatureBenchmarks gemm [--repeats N]
//        CurvatureBenchmarks read FILE [--repeats N]
//        CurvatureBenchmarks htsr-phases FILE      (single-threaded time per HTSR phase over all 2-D layers)
//        CurvatureBenchmarks read-once FILE      (reads every tensor once; reports peak resident memory)
//        CurvatureBenchmarks hvp MODEL.onnx DATA.npz [--repeats N] [--only hvp|hvps]  (forward, gradient, HVP, block HVP;
//        hvp: one HVP and the peak memory; hvps: REPEATS HVPs, to profile)
//        mpirun -np N CurvatureBenchmarks allreduce [--repeats N]   (one sum of P doubles over the ranks)
import Curvature
import Foundation

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Median and best of `repeats` timings after one warm-up run.
func measure(repeats: Int, _ body: () -> Void) -> (median: Double, best: Double) {
    body()
    let times = (0..<repeats).map { _ in seconds(body) }.sorted()
    return (times[times.count / 2], times[0])
}

func gemmBenchmark<S: TensorScalar>(_: S.Type, n: Int, threads: Int, repeats: Int) {
    var random = SeededRandom(seed: 1)
    let a = Tensor<S>.gaussian(shape: [n, n], using: &random)
    let b = Tensor<S>.gaussian(shape: [n, n], using: &random)
    var c = Tensor<S>(zeros: [n, n])
    BLASThreads.set(threads)
    let (median, best) = measure(repeats: repeats) { gemm(alpha: 1, a, b, beta: 0, into: &c) }
    let flops = 2 * Double(n) * Double(n) * Double(n)
    print(String(format: "swift gemm dtype=%@ n=%d threads=%d median_s=%.5f gflops=%.1f best_gflops=%.1f",
                 S.typeName, n, threads, median, flops / median / 1e9, flops / best / 1e9))
}

/// Opening a weight file (what `curvature info` does) and reading every tensor, against a plain memory copy of the
/// same number of bytes (the bandwidth ceiling for data already in the page cache).
func readBenchmark(path: String, repeats: Int) throws {
    let url = URL(fileURLWithPath: path)
    var archive: (any TensorArchive)?
    let (openMedian, _) = measure(repeats: repeats) { archive = try! WeightFile.open(url) }
    let bytes = archive!.descriptors.reduce(0) { $0 + $1.byteCount }
    var checksum = 0.0
    let (readMedian, readBest) = measure(repeats: repeats) {
        for descriptor in archive!.descriptors {
            let tensor = try! archive!.tensor(named: descriptor.name)
            checksum += Double(tensor.data.first ?? 0)
        }
    }
    let source = Data(count: bytes)
    var target = Data(count: bytes)
    let (copyMedian, _) = measure(repeats: repeats) {
        target.withUnsafeMutableBytes { t in source.withUnsafeBytes { s in t.copyMemory(from: s) } }
    }
    print(String(format: "swift read file=%@ tensors=%d bytes=%d open_median_s=%.5f read_all_median_s=%.4f " +
                 "read_all_gbps=%.2f best_gbps=%.2f memcpy_gbps=%.2f checksum=%.0f",
                 url.lastPathComponent, archive!.descriptors.count, bytes, openMedian, readMedian,
                 Double(bytes) / readMedian / 1e9, Double(bytes) / readBest / 1e9, Double(bytes) / copyMedian / 1e9,
                 checksum))
}

/// Reads every tensor once, keeping none, and reports the process's peak resident set size.
func readOnceBenchmark(path: String) throws {
    let archive = try WeightFile.open(URL(fileURLWithPath: path))
    var bytes = 0
    var largest = 0
    for descriptor in archive.descriptors {
        let tensor = try archive.tensor(named: descriptor.name)
        bytes += tensor.data.count
        largest = max(largest, tensor.data.count)
    }
    // VmHWM, not getrusage's ru_maxrss, which carries the parent's peak across fork and exec.
    print(String(format: "swift read-once file=%@ bytes=%d largest_tensor_bytes=%d peak_rss_mib=%.1f",
                 URL(fileURLWithPath: path).lastPathComponent, bytes, largest, residentMiB("VmHWM")))
}

/// Where HTSR's time goes, one thread, every 2-D floating-point tensor: read, widen to Double, Gram (syrk),
/// eigenvalues (dsyevd), power-law fit. The Gram + eigenvalue time is the floor a native tool cannot go under.
func htsrPhases(path: String) throws {
    BLASThreads.set(1)
    let archive = try WeightFile.open(URL(fileURLWithPath: path))
    var times = [String: Double]()
    var gramFlops = 0.0
    var layers = 0
    for descriptor in archive.descriptors where descriptor.shape.count == 2 && descriptor.dtype.isFloatingPoint
        && min(descriptor.shape[0], descriptor.shape[1]) >= 8 && max(descriptor.shape[0], descriptor.shape[1]) <= 50000 {
        layers += 1
        var stored: StoredTensor?
        times["read", default: 0] += seconds { stored = try! archive.tensor(named: descriptor.name) }
        var matrix: Tensor<Double>?
        times["widen", default: 0] += seconds { matrix = stored!.tensor(Double.self) }
        var gram: Tensor<Double>?
        times["gram", default: 0] += seconds { gram = smallerGram(matrix!) }
        let (n, m) = (Double(max(descriptor.shape[0], descriptor.shape[1])), Double(min(descriptor.shape[0], descriptor.shape[1])))
        gramFlops += n * m * m
        var values: [Double] = []
        times["eigenvalues", default: 0] += seconds { values = try! symmetricEigen(gram!, computeVectors: false).values }
        times["fit", default: 0] += seconds { _ = PowerLawFit.fit(eigenvalues: values.map { max(0, $0) }) }
    }
    let total = times.values.reduce(0, +)
    print(String(format: "swift htsr-phases layers=%d read_s=%.4f widen_s=%.4f gram_s=%.4f gram_gflops=%.1f " +
                 "eigenvalues_s=%.4f fit_s=%.4f total_s=%.4f", layers, times["read"]!, times["widen"]!, times["gram"]!,
                 gramFlops / times["gram"]! / 1e9, times["eigenvalues"]!, times["fit"]!, total))
}

/// A line of /proc/self/status in MiB: VmRSS (resident now) or VmHWM (the peak since start or the last reset).
func residentMiB(_ field: String) -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan) / 1024
}

/// Forward, gradient, an HVP in each mode, a replayed HVP, 8 single HVPs and a block of 8 of an ONNX model's mean
/// cross-entropy on one batch (the whole npz), float, with the BLAS threads the process starts with. With `only` =
/// "hvp", just one HVP in `mode` (the default mode when nil), for peak memory.
func hvpBenchmark(model: String, data: String, repeats: Int, only: String?, mode: HessianProductMode?) throws {
    let loaded = try ModelLoader.load(model, as: Float.self)
    var options = DataOptions()
    options.inputShape = nil
    let dataset: Dataset<Float> = try DataLoader.load(data, options: options, inputNames: loaded.model.graphInputs.map(\.name))
    var objective = Objective(model: loaded.model, parameters: loaded.parameters, buffers: loaded.buffers, loss: .crossEntropy,
                              data: dataset, batchSize: dataset.count)
    if let mode { objective.hessianProductMode = mode }
    let theta = objective.point
    var random = SeededRandom(seed: 3)
    let vectors = (0..<8).map { _ in Tensor<Float>.gaussian(shape: [objective.dimension], using: &random) }
    let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
    /// The name an HVP mode's figures carry: hvp_forward_over_reverse.
    func operation(_ mode: HessianProductMode) -> String { "hvp_" + mode.rawValue.replacingOccurrences(of: "-", with: "_") }
    func report(_ what: String, _ body: () -> Void) {
        let (median, best) = measure(repeats: repeats, body)
        print(String(format: "swift hvp model=%@ op=%@ median_ms=%.2f best_ms=%.2f", name, what, 1000 * median, 1000 * best))
    }
    if only == "hvps" {  // for a profiler: `repeats` HVPs and nothing else
        for _ in 0..<repeats { _ = objective.hessianVectorProduct(at: theta, vectors[0]) }
        return
    }
    if only == "hvp" {
        // The resident memory before the HVP (model, data, vectors), then the high-water mark during the HVP: the
        // kernel's peak is reset to the current RSS first (/proc/self/clear_refs, Linux). getrusage's ru_maxrss would
        // not do: a child inherits its parent's peak across fork and exec, here the Python driver's (about 900 MiB).
        let before = residentMiB("VmRSS")
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        _ = objective.hessianVectorProduct(at: theta, vectors[0])
        print(String(format: "swift hvp model=%@ op=%@_peak_rss_mib value=%.1f rss_before_hvp=%.1f", name, operation(objective.hessianProductMode),
                     residentMiB("VmHWM"), before))
        return
    }
    report("forward") { _ = objective.evaluate() }
    report("gradient") { _ = objective.lossAndGradient(at: theta) }
    for mode in HessianProductMode.allCases {
        var single = objective
        single.hessianProductMode = mode
        report(operation(mode)) { _ = single.hessianVectorProduct(at: theta, vectors[0]) }
    }
    // A product of the Hessian operator after its first: the recorded passes replayed, as PyHessian reuses its graph.
    let recorded = HessianOperator(objective)
    report("hvp_replayed") { _ = recorded.products([vectors[0]]) }
    report("8_hvps") { for v in vectors { _ = objective.hessianVectorProduct(at: theta, v) } }
    report("block_8") { _ = objective.hessianBlockProduct(at: theta, vectors) }
}

/// One sum over every rank of P doubles (what every Hessian product of a data-parallel run sends), timed on rank 0.
/// Run under mpirun.
func allreduceBenchmark(repeats: Int) {
    let group = ProcessGroup.world
    for count in [1_000, 6_570, 100_000, 1_000_000, 11_181_642] {
        let values = [Double](repeating: 1, count: count)
        group.barrier()
        let (median, best) = measure(repeats: repeats) { _ = group.sum(values) }
        if group.isRoot {
            print(String(format: "swift allreduce ranks=%d doubles=%d median_ms=%.3f best_ms=%.3f gb_per_s=%.2f",
                         group.size, count, 1000 * median, 1000 * best, Double(8 * count) / median / 1e9))
        }
    }
}

MemoryReuse.keepFreedBlocks()
let arguments = CommandLine.arguments.dropFirst()
let repeats = arguments.firstIndex(of: "--repeats").flatMap { Int(arguments[$0 + 1]) } ?? 10
switch arguments.first {
case "gemm":
    for threads in [1, 2] {
        for n in [1024, 2048] {
            gemmBenchmark(Float.self, n: n, threads: threads, repeats: repeats)
            gemmBenchmark(Double.self, n: n, threads: threads, repeats: repeats)
        }
    }
case "htsr-phases":
    try htsrPhases(path: arguments.dropFirst().first ?? "")
case "read-once":
    try readOnceBenchmark(path: arguments.dropFirst().first ?? "")
case "hvp":
    let files = Array(arguments.dropFirst().prefix(2))
    let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
    let mode = arguments.firstIndex(of: "--mode").flatMap { HessianProductMode(rawValue: arguments[$0 + 1]) }
    try hvpBenchmark(model: files[0], data: files[1], repeats: repeats, only: only, mode: mode)
case "allreduce":
    allreduceBenchmark(repeats: repeats)
    ProcessGroup.world.finish()
case "read":
    try readBenchmark(path: arguments.dropFirst().first ?? "", repeats: repeats)
default:
    FileHandle.standardError.write(Data("usage: CurvatureBenchmarks gemm|read FILE [--repeats N]\n".utf8))
    exit(64)
}

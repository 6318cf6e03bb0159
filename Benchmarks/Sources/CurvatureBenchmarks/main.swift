// Micro-benchmarks printed as one line per measurement: "swift <name> <key=value>...".
// Usage: CurvatureBenchmarks gemm [--repeats N]
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
default:
    FileHandle.standardError.write(Data("usage: CurvatureBenchmarks gemm [--repeats N]\n".utf8))
    exit(64)
}

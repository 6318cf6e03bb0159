import Foundation
import LinearAlgebra
import ModelFormats
import Testing
@testable import HTSR

/// Writes tensors to a temporary safetensors file and opens it.
func archive(_ tensors: [(String, Tensor<Double>)]) throws -> any TensorArchive {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("htsr-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent("model.safetensors")
    try SafetensorsFile.write(tensors.map { StoredTensor(name: $0.0, tensor: $0.1) }, to: url)
    return try WeightFile.open(url)
}

func gaussian(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
    var random = SeededRandom(seed: seed)
    return Tensor.gaussian(shape: shape, using: &random)
}

@Suite struct LayerDiscoveryTests {
    let descriptors: [TensorDescriptor] = [
        .init(name: "embed.weight", dtype: .float32, shape: [1000, 64]),
        .init(name: "norm.weight", dtype: .float32, shape: [64]),
        .init(name: "fc1.weight", dtype: .float16, shape: [128, 64]),
        .init(name: "fc1.bias", dtype: .float32, shape: [128]),
        .init(name: "conv.weight", dtype: .float32, shape: [16, 8, 3, 3]),
        .init(name: "conv1d.weight", dtype: .float32, shape: [16, 8, 5]),
        .init(name: "tiny.weight", dtype: .float32, shape: [5, 4]),
        .init(name: "huge.weight", dtype: .float32, shape: [60000, 16]),
        .init(name: "ids.weight", dtype: .int64, shape: [10, 10]),
    ]

    @Test func weightWatcherNumberingKindsAndFilters() throws {
        let (layers, skipped) = try LayerDiscovery.layers(of: descriptors, options: HTSROptions())
        // Only "*.weight" tensors are candidates (not fc1.bias), numbered from 1 in file order, 1-D ones included.
        #expect(layers.map(\.layerID) == [1, 3, 4, 5])
        #expect(layers.map(\.name) == ["embed", "fc1", "conv", "conv1d"])
        #expect(layers.map(\.kind) == [.embedding, .dense, .conv2d, .conv1d])
        #expect(layers[2].n == 16 && layers[2].m == 8 && layers[2].rf == 9 && layers[2].numEvals == 72)
        #expect(layers[3].rf == 5 && layers[3].numEvals == 40)
        #expect(skipped.map(\.name) == ["norm", "tiny", "huge", "ids"])
        #expect(skipped[1].reason.contains("--min-evals") && skipped[2].reason.contains("--max-n"))
    }

    @Test func optionsAndPatterns() throws {
        var options = HTSROptions()
        options.layers = "^(fc|conv)"
        options.exclude = "1d$"
        options.maxEvals = 70
        let (layers, skipped) = try LayerDiscovery.layers(of: descriptors, options: options)
        #expect(layers.map(\.name) == ["fc1"])
        #expect(skipped.contains { $0.name == "conv" && $0.reason.contains("--max-evals") })
        #expect(skipped.contains { $0.name == "conv1d" && $0.reason == "matches --exclude" })
        options.layers = "(unclosed"
        #expect(throws: HTSROptionError.self) { _ = try LayerDiscovery.layers(of: descriptors, options: options) }
    }

    @Test func unpooledConvGivesOneLayerPerKernelPosition() throws {
        var options = HTSROptions()
        options.pool = false
        let (layers, _) = try LayerDiscovery.layers(of: descriptors, options: options)
        let conv = layers.filter { $0.name == "conv" }
        #expect(conv.count == 9 && conv.allSatisfy { $0.numEvals == 8 && $0.layerID == 4 })
        #expect(conv.map { $0.slice! } == (0..<3).flatMap { i in (0..<3).map { [i, $0] } })
    }

    @Test func filesWithoutWeightSuffixesUseEveryTensor() throws {
        let plain: [TensorDescriptor] = [.init(name: "a", dtype: .float32, shape: [20, 10]), .init(name: "b", dtype: .float64, shape: [30, 10])]
        let (layers, _) = try LayerDiscovery.layers(of: plain, options: HTSROptions())
        #expect(layers.map(\.name) == ["a", "b"] && layers.map(\.layerID) == [1, 2])
    }
}

@Suite struct HTSRAnalysisTests {
    @Test func convSlicingAndWeightWatcherScaling() async throws {
        // PyTorch layout (out, in, kh, kw) = (6, 4, 2, 3): six kernel positions of 6 x 4 matrices.
        let kernel = gaussian([6, 4, 2, 3], seed: 1)
        var expected: [Double] = []
        var perSlice: [[Double]] = []
        for i in 0..<2 {
            for j in 0..<3 {
                var slice = Tensor<Double>(zeros: [6, 4])
                for o in 0..<6 { for c in 0..<4 { slice[o, c] = kernel[o, c, i, j] } }
                let values = try singularValues(slice).map { $0 * $0 }
                expected += values.map { $0 * 0.5 }  // pooled: each slice scaled by sqrt(1/2)
                perSlice.append(values.map { $0 * 6 / 2 }.sorted())  // unpooled: sqrt(rf/2), rf = 6
            }
        }
        let file = try archive([("conv.weight", kernel)])
        let pooled = try await analyzeHTSR(file)
        let row = try #require(pooled.layers.first)
        #expect(row.numEvals == 24 && row.rf == 6 && row.m == 4 && row.n == 6)
        #expect(abs(row.lambdaMax - expected.max()!) < 1e-10 && abs(row.norm - expected.reduce(0, +)) < 1e-9)

        var options = HTSROptions()
        options.pool = false
        options.minEvals = 2
        let unpooled = try await analyzeHTSR(file, options: options)
        #expect(unpooled.layers.count == 6)
        for (row, values) in zip(unpooled.layers, perSlice) {
            #expect(abs(row.lambdaMax - values.last!) < 1e-10 && abs(row.norm - values.reduce(0, +)) < 1e-9)
        }
    }

    @Test func kerasLayoutSlicesTheLeadingAxes() async throws {
        // (kh, kw, in, out) = (3, 3, 8, 16) in arrays of unknown origin: 3 + 3 < 8 + 16, so channels come last.
        let kernel = gaussian([3, 3, 8, 16], seed: 2)
        let memory = InMemoryArchive(path: "arrays", tensors: [StoredTensor(name: "k.weight", tensor: kernel)])
        let row = try #require(try await analyzeHTSR(memory).layers.first)
        #expect(row.convLayout == .channelsLast && row.convLayoutSource == .shape)
        var norm = 0.0
        for i in 0..<3 {
            for j in 0..<3 {
                let start = (i * 3 + j) * 128
                let slice = Tensor<Double>(shape: [8, 16], scalars: Array(kernel.scalars[start..<(start + 128)]))
                norm += try singularValues(slice).reduce(0) { $0 + $1 * $1 * 0.5 }
            }
        }
        #expect(row.n == 16 && row.m == 8 && row.rf == 9 && abs(row.norm - norm) < 1e-9)
    }

    /// The sum of squared singular values of W[:, :, i, j] over every kernel position (out, in, kh, kw), halved:
    /// the pooled ESD's norm when the channels come first.
    func channelsFirstNorm(_ kernel: Tensor<Double>) throws -> Double {
        let shape = kernel.shape.count == 3 ? kernel.shape + [1] : kernel.shape
        var norm = 0.0
        for i in 0..<shape[2] {
            for j in 0..<shape[3] {
                var slice = Tensor<Double>(zeros: [shape[0], shape[1]])
                for o in 0..<shape[0] {
                    for c in 0..<shape[1] { slice[o, c] = kernel.scalars[((o * shape[1] + c) * shape[2] + i) * shape[3] + j] }
                }
                norm += try singularValues(slice).reduce(0) { $0 + $1 * $1 * 0.5 }
            }
        }
        return norm
    }

    /// Long kernels (CREPE's Conv2d(1, 64, (512, 1)), a Conv1d over 50 taps) have kernel extents larger than their
    /// channels, so the extents would say Keras; a PyTorch file says (out, in, k...), and the file decides.
    @Test(arguments: [[8, 1, 64, 1], [12, 2, 50], [16, 8, 3, 3], [3, 2, 9, 7]])
    func pyTorchFilesSliceConvKernelsChannelsFirstWhateverTheirExtents(shape: [Int]) async throws {
        let kernel = gaussian(shape, seed: 7)
        let row = try #require(try await analyzeHTSR(archive([("conv.weight", kernel)]), options: {
            var options = HTSROptions()
            options.minEvals = 1
            return options
        }()).layers.first)
        #expect(row.convLayout == .channelsFirst && row.convLayoutSource == .format)
        #expect(row.n == max(shape[0], shape[1]) && row.m == min(shape[0], shape[1]) && row.rf == shape.dropFirst(2).reduce(1, *))
        #expect(abs(row.norm - (try channelsFirstNorm(kernel))) < 1e-9 * row.norm)

        // The same array without a format to say so is guessed from its extents, and --conv-layout overrides both.
        let memory = InMemoryArchive(path: "arrays", tensors: [StoredTensor(name: "conv.weight", tensor: kernel)])
        var options = HTSROptions()
        options.minEvals = 1
        let guessed = try #require(try await analyzeHTSR(memory, options: options).layers.first)
        #expect(guessed.convLayoutSource == .shape)
        #expect(guessed.convLayout == (shape[0] + shape[1] >= shape[shape.count - 2] + shape[shape.count - 1] ? .channelsFirst : .channelsLast))
        options.convLayout = .channelsFirst
        let forced = try #require(try await analyzeHTSR(memory, options: options).layers.first)
        #expect(forced.convLayoutSource == .option && abs(forced.norm - row.norm) < 1e-12 * row.norm)
        options.pool = false
        let slices = try await analyzeHTSR(memory, options: options).layers
        #expect(slices.count == row.rf && slices.allSatisfy { $0.m == row.m })
    }

    @Test func aFailedFitIsFailedNeverOverTrainedAndLeavesTheSummary() async throws {
        let healthy = gaussian([200, 50], seed: 3)
        let orthogonal = try qr(gaussian([50, 50], seed: 4)).q  // all eigenvalues 1: no power law
        let report = try await analyzeHTSR(archive([("good.weight", healthy), ("flat.weight", orthogonal),
                                                    ("zero.weight", Tensor(zeros: [40, 20]))]))
        let rows = Dictionary(uniqueKeysWithValues: report.layers.map { ($0.name, $0) })
        for name in ["flat", "zero"] {
            let row = try #require(rows[name])
            #expect(row.status == "failed" && row.warning == "failed" && row.alpha == nil && row.failure != nil)
        }
        let good = try #require(rows["good"])
        #expect(good.status == "success")
        #expect(report.summary.failedFits == 2 && report.summary.layers == 3)
        #expect(report.summary.alpha == good.alpha)
    }

    @Test func nonFiniteWeightsAreSkippedWithAReason() async throws {
        var bad = gaussian([30, 20], seed: 5)
        bad[3, 4] = .nan
        let report = try await analyzeHTSR(archive([("bad.weight", bad), ("ok.weight", gaussian([30, 20], seed: 6))]))
        #expect(report.layers.map(\.name) == ["ok"])
        #expect(report.skipped.contains { $0.name == "bad" && $0.reason.contains("NaN") })
    }

    @Test func layersRunInParallelAndComeBackInFileOrder() async throws {
        let tensors = (0..<12).map { ("l\($0).weight", gaussian([40 + 10 * $0, 30], seed: UInt64($0))) }
        var options = HTSROptions()
        options.workers = 2
        let report = try await analyzeHTSR(archive(tensors), options: options)
        #expect(report.layers.map(\.layerID) == Array(1...12))
        var serial = options
        serial.workers = 1
        #expect(try await analyzeHTSR(archive(tensors), options: serial).layers == report.layers)
    }

    @Test func hostileFilesGiveFormatErrors() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("htsr-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("model.safetensors")
        try SafetensorsFile.write([StoredTensor(name: "w.weight", tensor: gaussian([30, 20], seed: 1))], to: url)
        let file = try WeightFile.open(url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 100)
        try handle.close()
        await #expect(throws: HTSRError.self) { _ = try await analyzeHTSR(file) }
    }
}

@Suite struct StreamedGramTests {
    /// 8200 x 256 = 2.1 M elements: accumulated from the file in blocks.
    @Test func tallLayersStreamedMatchTheFullSVD() async throws {
        let w = gaussian([8200, 256], seed: 21)
        let report = try await analyzeHTSR(archive([("tall.weight", w)]))
        let row = try #require(report.layers.first)
        #expect(row.esdMethod == .gram)
        let exact = try singularValues(w).map { $0 * $0 }.sorted()
        #expect(abs(row.lambdaMax - exact.last!) < 1e-10 * exact.last!)
        #expect(abs(row.norm - exact.reduce(0, +)) < 1e-10 * exact.reduce(0, +))
        #expect(abs(row.svMin - exact.first!.squareRoot()) < 1e-9 * row.svMax)
    }

    @Test func lowRankTallLayersFallBackToTheExactSVD() async throws {
        let w = matmul(gaussian([8200, 10], seed: 22), gaussian([10, 256], seed: 23))
        let row = try #require(try await analyzeHTSR(archive([("low.weight", w)])).layers.first)
        #expect(row.esdMethod == .svd && row.rankLoss == 246 && row.matrixRank == 10)
    }

    @Test func nonFiniteValuesInALaterBlock() async throws {
        var w = gaussian([8200, 256], seed: 24)
        w[8000, 7] = .infinity
        let report = try await analyzeHTSR(archive([("tall.weight", w)]))
        #expect(report.layers.isEmpty && report.skipped.first?.reason.contains("NaN or infinite") == true)
    }
}

@Suite struct RandomizationTests {
    func esd(_ m: Tensor<Double>) throws -> [Double] { try EmpiricalSpectralDensity(matrices: [m], scale: 1).eigenvalues }

    @Test func jensenShannonDistanceHasItsKnownValues() {
        #expect(jensenShannonDistance([1, 2, 3], [2, 4, 6]) == 0)
        #expect(abs(jensenShannonDistance([1, 0], [0, 1]) - Foundation.log(2).squareRoot()) < 1e-15)
    }

    @Test func aRandomMatrixSurvivesShufflingAndAPlantedSpikeDoesNot() throws {
        var random = SeededRandom(seed: 4)
        let gaussian = Tensor<Double>.gaussian(shape: [300, 100], using: &random)
        var shuffle = SeededRandom(seed: 9)
        let plain = Randomization(eigenvalues: try esd(gaussian),
                                  randomized: try esd(Randomization.shuffled([gaussian], using: &shuffle)[0]))
        #expect(abs(plain.softRank - 1) < 0.15 && plain.distance < 0.05)
        // W = G + s u v^T with a strong rank-one signal: shuffling spreads it out, so lambda_max drops.
        let u = Tensor<Double>.gaussian(shape: [300, 1], using: &random), v = Tensor<Double>.gaussian(shape: [1, 100], using: &random)
        let spiked = gaussian + matmul(u, v) * 3
        shuffle = SeededRandom(seed: 9)
        let eigenvalues = try esd(spiked)
        let result = Randomization(eigenvalues: eigenvalues, randomized: try esd(Randomization.shuffled([spiked], using: &shuffle)[0]))
        #expect(result.softRank < 0.2 && result.maxDistance > 0.8 * eigenvalues.last!)
        // Seeded: the same seed gives the same shuffle.
        var first = SeededRandom(seed: 1), second = SeededRandom(seed: 1)
        #expect(Randomization.shuffled([spiked], using: &first) == Randomization.shuffled([spiked], using: &second))
    }
}

@Suite struct DeltaAnalysisTests {
    @Test func aDeltaAnalysisSeesOnlyTheDifference() async throws {
        let base = gaussian([60, 40], seed: 1), delta = gaussian([60, 40], seed: 2) * 0.1
        let model = try archive([("fc.weight", base + delta)]), original = try archive([("fc.weight", base)])
        let report = try await analyzeHTSR(model, options: HTSROptions(), base: original)
        let alone = try await analyzeHTSR(try archive([("fc.weight", delta)]))
        #expect(report.baseModel == original.path && report.layers.count == 1)
        #expect(abs(report.layers[0].lambdaMax - alone.layers[0].lambdaMax) < 1e-9 * alone.layers[0].lambdaMax)
        #expect(report.layers[0].alpha == alone.layers[0].alpha || abs(report.layers[0].alpha! - alone.layers[0].alpha!) < 1e-6)
        // A base without the tensor, or with another shape, is refused by name.
        for other in [try archive([("other.weight", base)]), try archive([("fc.weight", gaussian([40, 60], seed: 3))])] {
            await #expect(throws: HTSRError.self) { try await analyzeHTSR(model, options: HTSROptions(), base: other) }
        }
    }
}

@Suite struct LoRATests {
    @Test func anAdapterIsAnalysedAsItsDenseProducts() async throws {
        // PEFT's naming: X.lora_A.weight [r, in], X.lora_B.weight [out, r].
        let prefix = "base_model.model.layers.0.self_attn."
        let (qA, qB) = (gaussian([8, 64], seed: 1), gaussian([48, 8], seed: 2))
        let (vA, vB) = (gaussian([8, 64], seed: 3), gaussian([64, 8], seed: 4))
        let adapter = try archive([(prefix + "q_proj.lora_A.weight", qA), (prefix + "q_proj.lora_B.weight", qB),
                                   (prefix + "v_proj.lora_A.weight", vA), (prefix + "v_proj.lora_B.weight", vB)])
        let dense = try archive([(prefix + "q_proj.weight", matmul(qB, qA)), (prefix + "v_proj.weight", matmul(vB, vA))])
        let fromAdapter = try await analyzeHTSR(adapter), fromDense = try await analyzeHTSR(dense)
        #expect(fromAdapter.layers.map(\.name) == [prefix + "q_proj", prefix + "v_proj"])
        #expect(fromAdapter.layers.map(\.name) == fromDense.layers.map(\.name))
        for (a, d) in zip(fromAdapter.layers, fromDense.layers) {
            #expect(a.n == d.n && a.m == d.m && a.numEvals == d.numEvals && a.matrixRank == 8)
            #expect(abs(a.lambdaMax - d.lambdaMax) < 1e-9 * d.lambdaMax && abs(a.norm - d.norm) < 1e-9 * d.norm)
            #expect(a.alpha == d.alpha || abs((a.alpha ?? 0) - (d.alpha ?? 0)) < 1e-9)
        }
    }
}

/// Keras's own weight files (scripts/fixtures/make_keras_fixtures.py): the Keras 3 layout and the legacy .h5 give the
/// same layers, and each equals its tensor rearranged into PyTorch's layout (a conv kernel (out, in, kh, kw), a dense
/// kernel (out, in)) in a channels-first archive.
@Suite struct KerasFileTests {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelFormatsTests/Fixtures/hdf5")

    @Test func kerasFilesGiveThePyTorchLayoutsSpectra() async throws {
        var options = HTSROptions()
        options.minEvals = 2
        let modern = try await analyzeHTSR(try WeightFile.open(folder.appendingPathComponent("keras3.weights.h5")), options: options)
        let legacy = try await analyzeHTSR(try WeightFile.open(folder.appendingPathComponent("keras3_legacy.h5")), options: options)
        #expect(modern.layers.map(\.numEvals).sorted() == [10, 27, 32] && modern.skipped.count == 3)
        let byShape = { (report: HTSRReport) in Dictionary(uniqueKeysWithValues: report.layers.map { ("\($0.n)x\($0.m)x\($0.rf)", $0) }) }
        #expect(Set(byShape(modern).keys) == ["16x3x9", "256x32x1", "32x10x1"])

        let file = try WeightFile.open(folder.appendingPathComponent("keras3.weights.h5"))
        var rearranged: [StoredTensor] = []
        for descriptor in file.descriptors where descriptor.shape.count > 1 {
            let kernel = try file.tensor(named: descriptor.name).tensor(Double.self)
            let torchLayout: Tensor<Double>
            if kernel.rank == 4 {
                let (kh, kw, input, output) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
                var t = Tensor<Double>(zeros: [output, input, kh, kw])
                for i in 0..<kh { for j in 0..<kw { for c in 0..<input { for o in 0..<output { t[o, c, i, j] = kernel[i, j, c, o] } } } }
                torchLayout = t
            } else {
                torchLayout = kernel.transposed()
            }
            rearranged.append(StoredTensor(name: descriptor.name + ".weight", tensor: torchLayout))
        }
        let torch = try await analyzeHTSR(InMemoryArchive(path: "torch", tensors: rearranged, kernelLayout: .channelsFirst), options: options)
        for (key, row) in byShape(torch) {
            for other in [byShape(modern)[key], byShape(legacy)[key]] {
                let other = try #require(other, "\(key)")
                #expect(abs(other.lambdaMax - row.lambdaMax) < 1e-9 * row.lambdaMax && other.alpha == row.alpha, "\(key)")
            }
        }
    }
}

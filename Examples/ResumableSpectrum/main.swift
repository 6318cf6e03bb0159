// The spectrum analysis as one library call, interrupted and resumed: the shipped MLP (ONNX) on the digits, its
// top 3 Hessian eigenvalues, the trace by 60 Hutchinson probes and the SLQ density by 4 probes, checkpointed to a
// resume file. The first run is stopped (its progress callback throws) once the first block of trace probes is
// done; the second continues from the file. The program checks that the resumed result equals an uninterrupted
// run's to the last bit.
// Run: swift run -c release ResumableSpectrum [OUTPUT_DIR]   (default: .)
import Curvature
import Foundation

let folder = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? ".")
let checkpoint = folder.appendingPathComponent("spectrum-resume.json").path
try? FileManager.default.removeItem(atPath: checkpoint)
var settings = SpectrumSettings()
settings.topK = 3
settings.seed = 1
settings.trace = ProbeBudget(method: .hutchinson, matvecs: 60)
settings.density = DensitySettings(method: .slq, probes: 4, steps: 30)
let analysis = SpectrumAnalysis(objective: ObjectiveSettings(model: "Examples/models/digits_mlp.onnx", data: "digits"), settings: settings)

struct Interrupted: Error {}
do {
    _ = try analysis.run(Double.self, resume: checkpoint, progress: { event in
        if case .trace(let done, _) = event, done > 0 { throw Interrupted() }
    })
    fatalError("the first run was meant to be interrupted")
} catch is Interrupted {
    print("interrupted after the first block of trace probes; \(checkpoint.split(separator: "/").last!) holds them")
}
let resumed = try analysis.run(Double.self, resume: checkpoint).report
let oneShot = try analysis.run(Double.self).report
guard try Rendering.json(resumed) == Rendering.json(oneShot) else { fatalError("the resumed run differs from the one-shot run") }
print("resumed: the report equals an uninterrupted run's, bit for bit")
print(resumed.table(), terminator: "")

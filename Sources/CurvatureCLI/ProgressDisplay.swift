import Curvature
import Foundation

/// Progress on stderr, from rank 0 of an MPI run only: a bar redrawn in place on a terminal, whole lines when
/// stderr is a file (a batch job's log), nothing when it is a pipe or with --quiet.
final class ProgressDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private var meter: ProgressMeter?

    init(quiet: Bool) {
        guard !quiet, ProcessGroup.world.isRoot else { return }
        if isatty(STDERR_FILENO) != 0 {
            meter = ProgressMeter(style: .bar)
        } else {
            var status = stat()
            if fstat(STDERR_FILENO, &status) == 0, status.st_mode & S_IFMT == S_IFREG { meter = ProgressMeter(style: .lines) }
        }
    }

    var isShown: Bool { meter != nil }

    func show(_ event: some ProgressEvent) {
        write { $0.text(for: event, now: Self.now()) }
    }

    func show(_ message: String) { show(ProgressMessage(message)) }

    /// Ends the last stage's bar or line.
    func finish() {
        write { $0.finish(now: Self.now()) }
    }

    private func write(_ text: (inout ProgressMeter) -> String) {
        lock.lock()
        defer { lock.unlock() }
        guard meter != nil else { return }
        let output = text(&meter!)
        if !output.isEmpty { FileHandle.standardError.write(Data(output.utf8)) }
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

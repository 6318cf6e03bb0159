import ArgumentParser
import Curvature
import Foundation

@main
struct CurvatureCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "curvature",
        abstract: "Hessian spectra, loss landscapes and heavy-tailed weight spectra of trained networks.",
        discussion: """
            Reads weight files (safetensors, NumPy .npy/.npz, PyTorch checkpoints, ONNX) and reports on them.
            Results go to stdout as an aligned table, JSON or CSV (--format); progress and errors go to stderr.
            """,
        version: version,
        subcommands: [DemoCommand.self, InfoCommand.self, HTSRCommands.self, EvalCommand.self, SpectrumCommand.self, LandscapeCommand.self]
    )

    static func main() async {
        MemoryReuse.keepFreedBlocks()  // tensors' large arrays stay in the heap between passes
        let group = ProcessGroup.world
        // Under mpirun every rank computes, rank 0 alone prints and writes.
        if !group.isRoot { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
        } catch {
            // Every rank parsed the same arguments and failed alike: rank 0 says so once.
            fail(error, leaving: group, speaks: group.isRoot)
        }
        do {
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            group.finish()
        } catch let failure as AgreedFailure {
            // Every rank knows a rank failed (ModelOptions checks after loading): the failing one says why.
            guard let error = failure.error else {
                group.finish()
                Foundation.exit(1)
            }
            fail(group.size > 1 ? RankError(rank: group.rank, size: group.size, error: error) : error, leaving: group)
        } catch {
            guard group.size > 1 else { fail(error, leaving: group) }
            // The other ranks may be waiting in a collective: print and end them all.
            FileHandle.standardError.write(Data(errorLine(RankError(rank: group.rank, size: group.size, error: error)).utf8))
            group.abort(status: exitCode(for: error).rawValue)
        }
    }
}

extension CurvatureCommand {
    /// Ends the process for `error`, leaving `group`'s MPI run on the way. Help and `--version` print as
    /// ArgumentParser prints them (exit 0); any other error is one line on stderr, usage errors included
    /// (ArgumentParser's own adds the whole usage), so a script or a log reads exactly what went wrong. The line is
    /// written before leaving MPI: mpirun may drop one written after MPI_Finalize by a rank that then exits non-zero.
    /// Only a rank that `speaks` prints.
    static func fail(_ error: any Error, leaving group: ProcessGroup? = nil, speaks: Bool = true) -> Never {
        let code = exitCode(for: error)
        if speaks, code != .success { FileHandle.standardError.write(Data(errorLine(error).utf8)) }
        group?.finish()
        if speaks, code == .success { exit(withError: error) }
        Foundation.exit(code.rawValue)
    }

    /// "Error: <message>" on one line, whatever the message holds: names read from files are escaped where they are
    /// quoted, and any line break left (ArgumentParser's suggestions) is joined with "; ".
    static func errorLine(_ error: any Error) -> String {
        let lines = message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        return "Error: " + Rendering.printable(explained(lines.filter { !$0.isEmpty }.joined(separator: "; "))) + "\n"
    }

    /// ArgumentParser says only "The value 'V' is invalid for '--option <name>'" when a number does not parse (every
    /// other value type here names its format, and choices are listed): say what a number there must look like. A
    /// negative integer that fails can only be for an unsigned option; digits alone that fail are out of range.
    static func explained(_ message: String) -> String {
        guard let match = message.wholeMatch(of: /The value '(.*)' is invalid for '([^']*)'/) else { return message }
        let value = String(match.1)
        let allowed = if Int(value) != nil {
            "expected a whole number of at least 0"
        } else if value.wholeMatch(of: /-?[0-9]+/) != nil {
            "the number is out of range (at most \(UInt64.max))"
        } else if Double(value) != nil {
            "expected a whole number"
        } else {
            "expected a number"
        }
        return message + ": " + allowed
    }
}

/// `--limit -1` as `--limit=-1`: ArgumentParser reads a token starting with a dash as an option, so a negative
/// number after an option would be "Missing value"; joined, it reaches the option's own check, which says what is
/// allowed. A negative number is never an option name, so nothing else changes meaning.
func joiningNegativeValues(_ arguments: [String]) -> [String] {
    var result: [String] = []
    for argument in arguments {
        if let last = result.last, last.hasPrefix("--"), !last.contains("="), argument.count > 1, argument.hasPrefix("-"),
           argument.dropFirst().first.map({ $0.isNumber || $0 == "." }) == true {
            result[result.count - 1] = last + "=" + argument
        } else {
            result.append(argument)
        }
    }
    return result
}

/// A failure that every rank of an MPI run has agreed on; `error` is set on the rank that failed.
struct AgreedFailure: Error {
    var error: (any Error)?
}

extension ProcessGroup {
    /// `body`'s result on every rank, or, when it fails on any rank, an ``AgreedFailure`` on every rank (one message,
    /// from the lowest failing rank, and no rank left waiting). Every rank calls it at the same point.
    func agreeing<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: (any Error)?
        do { result = try body() } catch { failure = error }
        if size > 1, let first = firstFailure(failure) { throw AgreedFailure(error: first.error) }
        if let failure { throw failure }
        return result!
    }
}

/// An error on one rank of several, named by its rank.
struct RankError: Error, CustomStringConvertible {
    var rank: Int
    var size: Int
    var error: any Error
    var description: String { "rank \(rank) of \(size): \(CurvatureCommand.message(for: error))" }
}

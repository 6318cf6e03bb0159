import Curvature
import Foundation

/// `curvature spectrum --resume FILE`: the finished probes of every row, saved after each block, with the settings
/// that produced them. A run resumes only with identical settings, so a resumed result equals a one-shot one.
struct SpectrumResumeFile: Codable, Equatable {
    struct Row: Codable, Equatable {
        var trace: [Double] = []
        var density = DensityProgress()
    }

    static let formatVersion = 1
    var version = formatVersion
    var settings: [String: String]
    var rows: [String: Row] = [:]

    /// The file at `path` if it exists (checked against `settings`), else a fresh state.
    static func open(_ path: String, settings: [String: String]) throws -> SpectrumResumeFile {
        guard FileManager.default.fileExists(atPath: path) else { return SpectrumResumeFile(settings: settings) }
        let state: SpectrumResumeFile
        do {
            state = try JSONDecoder().decode(SpectrumResumeFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CommandError("--resume \(path) is not a curvature spectrum checkpoint (\(error.localizedDescription)); move it away to start afresh")
        }
        guard state.version == formatVersion else {
            throw CommandError("--resume \(path) has checkpoint version \(state.version); this curvature writes version \(formatVersion)")
        }
        let differing = Set(state.settings.keys).union(settings.keys).filter { state.settings[$0] != settings[$0] }.sorted()
        guard differing.isEmpty else {
            throw CommandError("--resume \(path) was written with different settings (\(differing.joined(separator: ", "))); use the same options or another file")
        }
        return state
    }

    /// Written to a temporary file and renamed over the old one, so an interruption leaves either checkpoint whole.
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = path + ".partial"
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw CommandError("cannot write the --resume checkpoint \(path): \(error.localizedDescription)")
        }
    }
}

import Foundation
import ModelImport
import Reporting
import Spectra

/// A spectrum run's resume file: its finished probes, saved after each block: the typed settings that produced them plus, per row,
/// the trace samples and density progress so far. A run resumes only under identical settings, so a resumed result
/// equals a one-shot one.
public struct SpectrumResumeState: Sendable, Codable, Equatable {
    /// One row's finished probes.
    public struct Row: Sendable, Codable, Equatable {
        public var trace: [Double] = []
        public var density = DensityProgress()
        public init() {}
    }

    /// The file's layout; another version is refused rather than misread.
    public static let formatVersion = 3
    public var version = formatVersion
    public var objective: ObjectiveSettings
    public var settings: SpectrumSettings
    /// Per row, keyed "CHECKPOINT|PARAMETERS".
    public var rows: [String: Row] = [:]

    public init(objective: ObjectiveSettings, settings: SpectrumSettings) {
        self.objective = objective
        self.settings = settings
    }

    /// The file at `path` if it exists (checked against the settings), else a fresh state.
    public static func open(_ path: String, objective: ObjectiveSettings, settings: SpectrumSettings) throws(SpectrumError) -> SpectrumResumeState {
        let fresh = SpectrumResumeState(objective: objective, settings: settings)
        guard FileManager.default.fileExists(atPath: path) else { return fresh }
        let saved: SpectrumResumeState
        do {
            saved = try JSONDecoder().decode(SpectrumResumeState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .checkpoint("--resume \(path) is not a curvature spectrum checkpoint of version \(formatVersion) (\(error.localizedDescription)); move it away to start afresh")
        }
        guard saved.version == formatVersion else {
            throw .checkpoint("--resume \(path) has checkpoint version \(saved.version); this curvature writes version \(formatVersion)")
        }
        let changed = objective.changedInputs(since: saved.objective)
        guard changed.isEmpty else {
            throw .checkpoint("--resume \(path) was written for other contents of \(changed.joined(separator: ", ")) (changed since); move it away to start afresh")
        }
        let differing = fresh.differences(from: saved)
        guard differing.isEmpty else {
            throw .checkpoint("--resume \(path) was written with different settings (\(differing.joined(separator: ", "))); use the same options or another file")
        }
        return saved
    }

    /// The settings' keys whose values differ, compared field by field through their JSON form.
    func differences(from other: SpectrumResumeState) -> [String] {
        func fields(_ checkpoint: SpectrumResumeState) -> [String: String] {
            var result: [String: String] = [:]
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            for value in [try? encoder.encode(checkpoint.objective), try? encoder.encode(checkpoint.settings)] {
                guard let value, let object = try? JSONSerialization.jsonObject(with: value) as? [String: Any] else { continue }
                for (key, field) in object {
                    let data = try? JSONSerialization.data(withJSONObject: ["v": field], options: .sortedKeys)
                    result[key] = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
                }
            }
            return result
        }
        let (mine, theirs) = (fields(self), fields(other))
        return Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted()
    }

    /// Written to a temporary file and renamed over the old one, so an interruption leaves either checkpoint whole.
    public func write(to path: String) throws(SpectrumError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { try OutputFile.write(to: path, option: "--resume") { try encoder.encode(self).write(to: $0) } } catch {
            throw .checkpoint(error.description)
        }
    }
}

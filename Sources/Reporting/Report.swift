import Foundation

/// How a report is rendered: aligned text for people, JSON and CSV for programs.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// Aligned columns for people.
    case table
    /// The report's Codable form with snake_case keys, for programs.
    case json
    /// One header row and one row per item, for spreadsheets and data frames.
    case csv
}

/// A result that renders itself in every ``ReportFormat``: the analyses' reports conform, so a library user gets the
/// CLI's tables and CSV without the CLI.
public protocol Report: Encodable {
    /// Aligned text for people, ending in a newline.
    func table() -> String
    /// RFC 4180 CSV with a header row, ending in a newline.
    func csv() -> String
}

extension Report {
    /// The report in `format`; JSON through `Rendering.json(_:userInfo:)`, ending in a newline.
    public func rendered(as format: ReportFormat) throws -> String {
        switch format {
        case .table: table()
        case .csv: csv()
        case .json: try Rendering.json(self) + "\n"
        }
    }
}

extension Rendering {
    /// An optional number in a printf format, "-" when absent.
    public static func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? "-"
    }
}

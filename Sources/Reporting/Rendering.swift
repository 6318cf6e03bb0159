import Foundation

// How reports and records look outside the process: JSON with snake_case keys (files and stdout alike), RFC 4180
// CSV, and aligned tables. The analyses' file writers and the CLI's renderers share it, so a key has one spelling.

public enum Rendering {
    /// JSON with snake_case keys and sorted, indented output. Keys that start upper-case (WeightWatcher's `N`, `D`,
    /// `Lambda`, `W_scale`) or hold an underscore (`detX_num`) are kept as they are.
    public static func json(_ value: some Encodable, userInfo: [CodingUserInfoKey: any Sendable] = [:]) throws -> String {
        let encoder = JSONEncoder()
        encoder.userInfo = userInfo
        encoder.keyEncodingStrategy = .custom { path in SnakeCaseKey(path.last!.stringValue) }
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf",
                                                                      negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// RFC 4180 CSV: fields with commas, quotes or newlines are quoted, quotes doubled.
    public static func csv(header: [String], rows: [[String]]) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Columns padded to their widest cell; columns listed in `rightAligned` (numbers) are right-aligned. Control
    /// characters in a cell (a tensor named with a newline or a terminal escape) are shown escaped.
    public static func table(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let header = header.map(printable), rows = rows.map { $0.map(printable) }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// `text` with control characters escaped as Swift writes them (`\n`, `\u{1B}`), so a name from a file can
    /// neither break a line of output nor drive the terminal.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A shape as NumPy prints it: "(3, 4)", "(5,)", "()".
    public static func shape(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// A byte count in binary units, e.g. "1.5 MiB".
    public static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// A coding key converted from camelCase to snake_case (`tensorCount` -> `tensor_count`, an acronym as one word:
/// `layerID` -> `layer_id`, `onnxURLPath` -> `onnx_url_path`), leaving keys with no lower-case letters alone.
public struct SnakeCaseKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }

    public init(_ key: String) {
        guard key.first?.isLowercase == true, !key.contains("_") else {
            stringValue = key
            return
        }
        let characters = Array(key)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                // A word starts at an upper-case letter after a lower-case one or a digit, or at the last capital
                // of an acronym that a lower-case letter follows.
                if !previous.isUppercase || next?.isLowercase == true { result += "_" }
            }
            result += character.lowercased()
        }
        stringValue = result
    }

    public init?(stringValue: String) { self.init(stringValue) }
    public init?(intValue: Int) { nil }
}

/// An error found while running a command (not while parsing): one line on stderr, exit code 1.

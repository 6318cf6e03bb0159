import Foundation

/// A table's content, rendered as aligned text for a terminal or as an HTML table for a report page.
public struct TableContent: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]
    /// Columns whose cells are right-aligned (numbers).
    public var rightAligned: Set<Int>

    public init(header: [String], rows: [[String]], rightAligned: Set<Int> = []) {
        self.header = header
        self.rows = rows
        self.rightAligned = rightAligned
    }

    /// Aligned columns, as ``Rendering/table(header:rows:rightAligned:)`` draws them.
    public func text() -> String { Rendering.table(header: header, rows: rows, rightAligned: rightAligned) }
}

/// One self-contained HTML page (`--report FILE.html`): a title, the settings and seed as a definition list, then
/// sections of tables, SVG plots inline and lines of text. It loads nothing from the network and runs no script,
/// so it opens the same offline, in a mail attachment or years later.
public struct HTMLPage: Sendable {
    /// A part of the page under a heading.
    public struct Section: Sendable {
        public var title: String
        public var blocks: [Block]

        public init(_ title: String, _ blocks: [Block]) {
            self.title = title
            self.blocks = blocks
        }
    }

    /// What a section holds.
    public enum Block: Sendable {
        case table(TableContent)
        /// An SVG document, inlined as it is (it comes from ``Plotting``, which escapes its own text).
        case svg(String)
        /// Lines of prose, one paragraph each.
        case text([String])
    }

    public var title: String
    /// What produced the page: command, files, settings and seed, as name-value pairs.
    public var settings: [(name: String, value: String)]
    public var sections: [Section]

    public init(title: String, settings: [(name: String, value: String)], sections: [Section]) {
        self.title = title
        self.settings = settings
        self.sections = sections
    }

    /// The page as HTML5 with its style sheet inline.
    public func html() -> String {
        var body = "<h1>\(Self.escaped(title))</h1>\n<dl class=\"settings\">\n"
        for (name, value) in settings {
            body += "<dt>\(Self.escaped(name))</dt><dd>\(Self.escaped(value))</dd>\n"
        }
        body += "</dl>\n"
        for section in sections {
            body += "<section>\n<h2>\(Self.escaped(section.title))</h2>\n"
            for block in section.blocks {
                switch block {
                case .table(let table): body += Self.html(table)
                case .svg(let svg): body += "<figure>\(Self.strippingXMLDeclaration(svg))</figure>\n"
                case .text(let lines): body += lines.map { "<p>\(Self.escaped($0))</p>\n" }.joined()
                }
            }
            body += "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escaped(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #1d1d1f; }
            h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
            dl.settings { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
            dl.settings dt { font-weight: 600; } dl.settings dd { margin: 0; font-family: ui-monospace, monospace; }
            table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
            th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; } th { background: #f3f3f3; text-align: left; }
            td.number { text-align: right; font-family: ui-monospace, monospace; }
            figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    private static func html(_ table: TableContent) -> String {
        var s = "<table>\n<thead><tr>" + table.header.map { "<th>\(escaped($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in table.rows {
            s += "<tr>" + row.enumerated().map { index, cell in
                table.rightAligned.contains(index) ? "<td class=\"number\">\(escaped(cell))</td>" : "<td>\(escaped(cell))</td>"
            }.joined() + "</tr>\n"
        }
        return s + "</tbody>\n</table>\n"
    }

    /// Text safe inside an element or a double-quoted attribute; control characters (a terminal escape in a tensor
    /// name) shown as U+FFFD.
    public static func escaped(_ text: String) -> String {
        var s = ""
        s.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": s += "&amp;"
            case "<": s += "&lt;"
            case ">": s += "&gt;"
            case "\"": s += "&quot;"
            case "\n", "\t": s.unicodeScalars.append(scalar)
            default: s.unicodeScalars.append(scalar.properties.generalCategory == .control ? "\u{FFFD}" : scalar)
            }
        }
        return s
    }

    private static func strippingXMLDeclaration(_ svg: String) -> String {
        guard svg.hasPrefix("<?xml"), let end = svg.range(of: "?>") else { return svg }
        return String(svg[end.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

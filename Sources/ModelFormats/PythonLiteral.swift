/// The Python literals .npy headers use: strings, integers, booleans, None, tuples, lists and dicts.
enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([String: PythonLiteral])
}

/// A recursive-descent parser for `PythonLiteral`, with a depth limit so hostile headers cannot exhaust the stack.
struct PythonLiteralParser {
    struct Failure: Error {
        var message: String
    }

    private let characters: [Character]
    private var index = 0
    private static let maximumDepth = 32

    init(_ text: String) { characters = Array(text) }

    mutating func parseTopLevel() throws(Failure) -> PythonLiteral {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == characters.count else { throw Failure(message: "unexpected text after the literal") }
        return value
    }

    private mutating func skipWhitespace() {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
    }

    private mutating func expect(_ character: Character) throws(Failure) {
        skipWhitespace()
        guard index < characters.count, characters[index] == character else {
            throw Failure(message: "expected '\(character)' at character \(index)")
        }
        index += 1
    }

    /// Whether the next non-space character is `character`; consumes it if so.
    private mutating func consume(_ character: Character) -> Bool {
        skipWhitespace()
        guard index < characters.count, characters[index] == character else { return false }
        index += 1
        return true
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> PythonLiteral {
        guard depth < Self.maximumDepth else { throw Failure(message: "nesting deeper than \(Self.maximumDepth)") }
        skipWhitespace()
        guard index < characters.count else { throw Failure(message: "unexpected end of text") }
        switch characters[index] {
        case "'", "\"": return .string(try parseString())
        case "{": return try parseDictionary(depth: depth)
        case "(":
            index += 1
            return .tuple(try parseSequence(closing: ")", depth: depth))
        case "[":
            index += 1
            return .list(try parseSequence(closing: "]", depth: depth))
        case "-", "0"..."9": return .integer(try parseInteger())
        default:
            for (word, value) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)]
            where characters[index...].starts(with: word) {
                index += word.count
                return value
            }
            throw Failure(message: "unexpected character '\(characters[index])' at \(index)")
        }
    }

    private mutating func parseString() throws(Failure) -> String {
        let quote = characters[index]
        index += 1
        var result = ""
        while index < characters.count, characters[index] != quote {
            if characters[index] == "\\" { index += 1 }
            guard index < characters.count else { break }
            result.append(characters[index])
            index += 1
        }
        guard index < characters.count else { throw Failure(message: "unterminated string") }
        index += 1
        return result
    }

    private mutating func parseInteger() throws(Failure) -> Int {
        let start = index
        if characters[index] == "-" { index += 1 }
        while index < characters.count, characters[index].isASCII, characters[index].isNumber { index += 1 }
        // A trailing L (Python 2 longs) is accepted as NumPy does.
        let digits = String(characters[start..<index])
        if index < characters.count, characters[index] == "L" { index += 1 }
        guard let value = Int(digits) else { throw Failure(message: "integer '\(digits)' is malformed or too large") }
        return value
    }

    private mutating func parseSequence(closing: Character, depth: Int) throws(Failure) -> [PythonLiteral] {
        var items: [PythonLiteral] = []
        while !consume(closing) {
            items.append(try parseValue(depth: depth + 1))
            if !consume(",") {
                try expect(closing)
                break
            }
        }
        return items
    }

    private mutating func parseDictionary(depth: Int) throws(Failure) -> PythonLiteral {
        index += 1
        var entries: [String: PythonLiteral] = [:]
        while !consume("}") {
            skipWhitespace()
            guard index < characters.count, characters[index] == "'" || characters[index] == "\"" else {
                throw Failure(message: "dict keys must be strings")
            }
            let key = try parseString()
            try expect(":")
            guard entries[key] == nil else { throw Failure(message: "duplicate key '\(key)'") }
            entries[key] = try parseValue(depth: depth + 1)
            if !consume(",") {
                try expect("}")
                break
            }
        }
        return .dictionary(entries)
    }
}

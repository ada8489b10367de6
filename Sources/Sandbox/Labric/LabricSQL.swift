/// The SQL the query tool accepts in the sandbox: a small, honest subset evaluated over the written tables.
///
///     SELECT * | column [, column ...] FROM table
///       [WHERE column op value [AND column op value ...]]
///       [ORDER BY column [ASC | DESC]] [LIMIT n] [;]
///
/// where op is one of `= != <> < <= > >=` and value one of `%s`, `'text'`, a number, `true`, `false`, `null`.
///
/// Anything else is refused with 400 and a message naming the subset, never answered wrongly.
enum LabricSQL {
    struct Relation: Sendable {
        var columns: [String]
        var rows: [[String: JSONValue]]
    }

    struct Failure: Error, Sendable {
        var message: String
        init(_ message: String) { self.message = message }
    }

    static let subset =
        "the sandbox evaluates SELECT columns FROM table [WHERE column = value [AND ...]] "
        + "[ORDER BY column [ASC|DESC]] [LIMIT n]"

    enum Token: Equatable {
        case word(String)
        case quoted(String)
        case text(String)
        case number(Double)
        case symbol(String)
        case placeholder
    }

    /// Runs the query; `relation` resolves table names.
    static func execute(_ sql: String, params: [JSONValue], relation: (String) -> Relation?) throws(Failure)
        -> (columns: [String], rows: [[JSONValue]])
    {
        var tokens = try tokenize(sql)[...]
        if tokens.last == .symbol(";") { tokens = tokens.dropLast() }
        guard case .word(let first) = tokens.first, first.uppercased() == "SELECT" else {
            throw Failure("Only SELECT statements are accepted")
        }
        tokens = tokens.dropFirst()
        var params = params[...]

        var selected: [String]? = []
        if tokens.first == .symbol("*") {
            selected = nil
            tokens = tokens.dropFirst()
        } else {
            repeat {
                if tokens.first == .symbol(",") { tokens = tokens.dropFirst() }
                selected!.append(try identifier(&tokens))
            } while tokens.first == .symbol(",")
        }
        try expect("FROM", &tokens)
        let tableName = try identifier(&tokens)
        guard let table = relation(tableName) else { throw Failure("relation \"\(tableName)\" does not exist") }
        func column(_ name: String) throws(Failure) -> String {
            guard table.columns.contains(name) else { throw Failure("column \"\(name)\" does not exist") }
            return name
        }

        var rows = table.rows
        if keyword("WHERE", &tokens) {
            repeat {
                let name = try column(try identifier(&tokens))
                guard case .symbol(let op) = tokens.first, ["=", "!=", "<>", "<", "<=", ">", ">="].contains(op) else {
                    throw Failure("Unsupported condition: \(subset)")
                }
                tokens = tokens.dropFirst()
                let value: JSONValue
                switch tokens.popFirst() {
                case .placeholder:
                    guard let param = params.popFirst() else {
                        throw Failure("The query has more %s placeholders than params")
                    }
                    value = param
                case .text(let text): value = .string(text)
                case .number(let number): value = .number(number)
                case .word(let word) where ["TRUE", "FALSE", "NULL"].contains(word.uppercased()):
                    value = word.uppercased() == "NULL" ? .null : .bool(word.uppercased() == "TRUE")
                default: throw Failure("Unsupported value in WHERE: \(subset)")
                }
                rows = rows.filter { compare($0[name] ?? .null, op, value) }
            } while keyword("AND", &tokens)
        }
        if keyword("ORDER", &tokens) {
            try expect("BY", &tokens)
            let name = try column(try identifier(&tokens))
            let descending = keyword("DESC", &tokens)
            if !descending { _ = keyword("ASC", &tokens) }
            rows.sort { a, b in
                let ordered = compare(a[name] ?? .null, "<", b[name] ?? .null)
                let reversed = compare(b[name] ?? .null, "<", a[name] ?? .null)
                return descending ? reversed : ordered
            }
        }
        if keyword("LIMIT", &tokens) {
            switch tokens.popFirst() {
            case .number(let number) where number >= 0 && number == number.rounded():
                rows = Array(rows.prefix(Int(number)))
            case .placeholder:
                guard let count = params.popFirst()?.intValue, count >= 0 else {
                    throw Failure("LIMIT needs a whole number")
                }
                rows = Array(rows.prefix(count))
            default: throw Failure("LIMIT needs a whole number")
            }
        }
        guard tokens.isEmpty else { throw Failure("Unsupported SQL near \(describe(tokens.first!)): \(subset)") }
        guard params.isEmpty else { throw Failure("The query has fewer %s placeholders than params") }
        let columns = try (selected ?? table.columns).map { (name: String) throws(Failure) -> String in try column(name)
        }
        return (columns, rows.map { row in columns.map { row[$0] ?? .null } })
    }

    /// SQL comparison: numbers by value, text by code point, NULL matching nothing (as in SQL).
    static func compare(_ lhs: JSONValue, _ op: String, _ rhs: JSONValue) -> Bool {
        if lhs == .null || rhs == .null { return false }
        let order: Int
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): order = a < b ? -1 : a > b ? 1 : 0
        case (.string(let a), .string(let b)): order = a < b ? -1 : a > b ? 1 : 0
        case (.number(let a), .string(let b)) where Double(b) != nil:
            order = a < Double(b)! ? -1 : a > Double(b)! ? 1 : 0
        case (.string(let a), .number(let b)) where Double(a) != nil:
            order = Double(a)! < b ? -1 : Double(a)! > b ? 1 : 0
        default: order = lhs == rhs ? 0 : 2
        }
        switch op {
        case "=": return order == 0
        case "!=", "<>": return order != 0
        case "<": return order == -1
        case "<=": return order == -1 || order == 0
        case ">": return order == 1
        default: return order == 1 || order == 0
        }
    }

    private static func keyword(_ word: String, _ tokens: inout ArraySlice<Token>) -> Bool {
        guard case .word(let next) = tokens.first, next.uppercased() == word else { return false }
        tokens = tokens.dropFirst()
        return true
    }

    private static func expect(_ word: String, _ tokens: inout ArraySlice<Token>) throws(Failure) {
        guard keyword(word, &tokens) else { throw Failure("Expected \(word): \(subset)") }
    }

    private static let reserved: Set<String> = [
        "SELECT", "FROM", "WHERE", "AND", "OR", "ORDER", "BY", "LIMIT", "JOIN", "GROUP",
    ]

    private static func identifier(_ tokens: inout ArraySlice<Token>) throws(Failure) -> String {
        switch tokens.popFirst() {
        case .word(let word) where !reserved.contains(word.uppercased()): return word
        case .quoted(let name): return name
        case let other:
            throw Failure("Expected a column or table name, got \(other.map(describe) ?? "the end"): \(subset)")
        }
    }

    private static func describe(_ token: Token) -> String {
        switch token {
        case .word(let word): "'\(word)'"
        case .quoted(let name): "\"\(name)\""
        case .text(let text): "'\(text)'"
        case .number(let number): "\(number)"
        case .symbol(let symbol): "'\(symbol)'"
        case .placeholder: "%s"
        }
    }

    static func tokenize(_ sql: String) throws(Failure) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(sql)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" || chars[j] == "." {
                    j += 1
                }
                tokens.append(.word(String(chars[i..<j])))
                i = j
            } else if c.isNumber || (c == "-" && i + 1 < chars.count && chars[i + 1].isNumber) {
                var j = i + 1
                while j < chars.count, chars[j].isNumber || chars[j] == "." { j += 1 }
                guard let number = Double(String(chars[i..<j])) else {
                    throw Failure("Bad number \(String(chars[i..<j]))")
                }
                tokens.append(.number(number))
                i = j
            } else if c == "'" || c == "\"" {
                var text = ""
                var j = i + 1
                while true {
                    guard j < chars.count else { throw Failure("Unterminated \(c == "'" ? "string" : "identifier")") }
                    if chars[j] == c {
                        // A doubled quote stands for itself.
                        if j + 1 < chars.count, chars[j + 1] == c {
                            text.append(c)
                            j += 2
                            continue
                        }
                        break
                    }
                    text.append(chars[j])
                    j += 1
                }
                tokens.append(c == "'" ? .text(text) : .quoted(text))
                i = j + 1
            } else if c == "%" && i + 1 < chars.count && chars[i + 1] == "s" {
                tokens.append(.placeholder)
                i += 2
            } else if c == ":" && i + 1 < chars.count && chars[i + 1].isLetter {
                throw Failure("Named :param placeholders are not accepted; use %s and params")
            } else if ["<", ">", "!"].contains(c), i + 1 < chars.count,
                chars[i + 1] == "=" || (c == "<" && chars[i + 1] == ">")
            {
                tokens.append(.symbol(String(chars[i...i + 1])))
                i += 2
            } else if ["*", ",", "=", "<", ">", ";", "(", ")"].contains(c) {
                tokens.append(.symbol(String(c)))
                i += 1
            } else {
                throw Failure("Unexpected character '\(c)': \(subset)")
            }
        }
        return tokens
    }
}

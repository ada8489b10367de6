/// Table writes: insert, upsert, update and delete, with `_ref` labels, `@label` references and lookup objects.
/// Problems are collected with their place in the request; the caller discards the copy when there are any.
extension LabricDatabase {
    struct TableWrite: Sendable {
        var table: String
        var rows: [[String: JSONValue]]
        var mode = "insert"
        var key: [String]?
        var cascade = false
        var onMatch = "overwrite"
    }

    /// What one request did, for the response and for the execution's bookkeeping.
    struct WriteContext: Sendable {
        /// The database as it was before the request: lookups only match rows that existed then.
        let before: LabricDatabase
        var executionID: String?
        var refs: [String: (table: String, id: String)] = [:]
        var problems: [LabricWriteProblem] = []
        var updated = 0
        var deleted = 0
    }

    mutating func apply(_ write: TableWrite, at index: Int, returnRows: Bool, context: inout WriteContext) -> JSONValue
    {
        let name = write.table
        if tables[name] == nil { createTable(name, raw: false) }
        if tables[name]?.isRaw == true {
            context.problems.append(
                .init("tables[\(index)].table", "'\(name)' is a raw table: write its points as a series"))
        }
        var created = 0
        var updated = 0
        var deleted = 0
        var cascaded: [String: Int] = [:]
        var ids: [JSONValue] = []
        var written: [JSONValue] = []
        for (rowIndex, input) in write.rows.enumerated() {
            let path = "tables[\(index)].rows[\(rowIndex)]"
            guard var values = resolve(input, table: name, path: path, context: &context) else {
                ids.append(.null)
                continue
            }
            let label = input["_ref"]?.stringValue
            var id: String?
            if write.mode == "insert" {
                id = values["id"]?.stringValue ?? LabricIDs.uuid()
                if let id, tables[name]?.rowIndex(id: id) != nil {
                    context.problems.append(.init("\(path).id", "A \(name) row with id '\(id)' already exists"))
                } else if let id {
                    values["id"] = .string(id)
                    update(name) { $0.rows.append(Row(values: values, executionID: context.executionID)) }
                    created += 1
                }
            } else {
                let key = write.key ?? ["id"]
                let missing = key.filter { values[$0] == nil || values[$0] == .null }
                let matches =
                    missing.isEmpty
                    ? (tables[name]?.rows ?? []).indices.filter { row in
                        key.allSatisfy { tables[name]!.rows[row].values[$0] == values[$0] }
                    }
                    : []
                if !missing.isEmpty {
                    context.problems.append(
                        .init(path, "Key column(s) \(missing.joined(separator: ", ")) missing from the row"))
                } else if matches.count > 1 {
                    context.problems.append(
                        .init(path, "The key matches \(matches.count) \(name) rows; it must match one"))
                } else if let match = matches.first {
                    let existing = tables[name]!.rows[match]
                    id = existing.id
                    switch write.mode {
                    case "delete":
                        delete(
                            id: existing.id, from: name, cascade: write.cascade, path: path, cascaded: &cascaded,
                            context: &context)
                        deleted += 1
                    default:
                        update(name) { table in
                            for (column, value) in values where column != "id" {
                                let current = table.rows[match].values[column] ?? .null
                                if write.onMatch == "overwrite" || current == .null {
                                    table.rows[match].values[column] = value
                                }
                            }
                        }
                        updated += 1
                    }
                } else if write.mode == "upsert" {
                    let newID = values["id"]?.stringValue ?? LabricIDs.uuid()
                    values["id"] = .string(newID)
                    update(name) { $0.rows.append(Row(values: values, executionID: context.executionID)) }
                    id = newID
                    created += 1
                } else {
                    context.problems.append(
                        .init(path, "No \(name) row matches the key (\(key.joined(separator: ", ")))"))
                }
            }
            ids.append(id.map { .string($0) } ?? .null)
            if let label, let id {
                if context.refs[label] != nil {
                    context.problems.append(.init("\(path)._ref", "The label '\(label)' is used more than once"))
                }
                context.refs[label] = (name, id)
            }
            if returnRows, let id, let table = tables[name] {
                written.append(table.rowIndex(id: id).map { readJSON(table.rows[$0], of: table) } ?? .object(values))
            }
        }
        context.updated += updated
        context.deleted += deleted
        return [
            "table": .string(name),
            "created": .number(Double(created)),
            "updated": .number(Double(updated)),
            "deleted": .number(Double(deleted)),
            "cascade_deleted": cascaded.isEmpty ? .null : .object(cascaded.mapValues { .number(Double($0)) }),
            "ids": .array(ids),
            "rows": returnRows ? .array(written) : .null,
        ]
    }

    /// Deletes a row; rows of raw tables go with it, rows of other tables only with `cascade`.
    private mutating func delete(
        id: String, from table: String, cascade: Bool, path: String, cascaded: inout [String: Int],
        context: inout WriteContext
    ) {
        var pending = [(table: table, id: id)]
        var first = true
        while let next = pending.popLast() {
            guard tables[next.table]?.rowIndex(id: next.id) != nil else { continue }
            let references = references(to: next.id, in: next.table)
            let blocking = references.filter { tables[$0.table]?.isRaw == false }
            if !blocking.isEmpty, !cascade {
                let counts = Dictionary(blocking.map { ($0.table, 1) }, uniquingKeysWith: +)
                let words = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key) row(s)" }.joined(
                    separator: ", ")
                context.problems.append(
                    .init(path, "The row is referenced by \(words); pass cascade: true to delete them too"))
                return
            }
            update(next.table) { $0.rows.removeAll { $0.id == next.id } }
            if !first { cascaded[next.table, default: 0] += 1 }
            first = false
            pending.append(contentsOf: references)
        }
    }

    /// A row's values with `_ref` removed, references and lookups turned into ids, and columns created or checked.
    /// nil when a problem was recorded.
    mutating func resolve(_ input: [String: JSONValue], table: String, path: String, context: inout WriteContext)
        -> [String: JSONValue]?
    {
        var values: [String: JSONValue] = [:]
        let before = context.problems.count
        for column in input.keys.sorted() where column != "_ref" {
            let value = input[column]!
            let cellPath = "\(path).\(column)"
            if column == "id" {
                switch value {
                case .string: values["id"] = value
                case .number(let number) where number == number.rounded(): values["id"] = .string(String(Int(number)))
                case .null: continue
                default: context.problems.append(.init(cellPath, "id must be a string"))
                }
                continue
            }
            let existing = tables[table]?.column(column)
            if case .string(let text) = value, text.hasPrefix("@") {
                guard let target = context.refs[String(text.dropFirst())] else {
                    context.problems.append(
                        .init(cellPath, "Unknown reference '\(text)': label an earlier row with _ref"))
                    continue
                }
                guard foreignKey(column, of: table, to: target.table, path: cellPath, context: &context) else {
                    continue
                }
                values[column] = .string(target.id)
            } else if case .object(let lookup) = value,
                let target = existing?.foreignTable ?? (context.before.tables[column] != nil ? column : nil)
            {
                let matches = context.before.tables[target].map { context.before.rows(of: $0, matching: lookup) } ?? []
                guard matches.count == 1 else {
                    context.problems.append(
                        .init(cellPath, "The lookup matches \(matches.count) \(target) rows; it must match exactly one")
                    )
                    continue
                }
                guard foreignKey(column, of: table, to: target, path: cellPath, context: &context) else { continue }
                values[column] = .string(matches[0].id)
            } else if let target = existing?.foreignTable, value != .null {
                guard let id = value.stringValue, tables[target]?.rowIndex(id: id) != nil else {
                    context.problems.append(.init(cellPath, "No \(target) row has id \(value.jsonText)"))
                    continue
                }
                values[column] = value
            } else {
                guard checkType(value, column: column, of: table, path: cellPath, context: &context) else { continue }
                values[column] = value
            }
        }
        return context.problems.count == before ? values : nil
    }

    /// Makes `column` a foreign key to `target`, or records why it cannot be one.
    mutating func foreignKey(
        _ column: String, of table: String, to target: String, path: String, context: inout WriteContext
    ) -> Bool {
        if let existing = tables[table]?.column(column) {
            guard existing.foreignTable == target else {
                context.problems.append(
                    .init(
                        path,
                        "Column '\(column)' holds \(existing.foreignTable ?? existing.dataType) values, "
                            + "not \(target) references"
                    ))
                return false
            }
            return true
        }
        addColumn(column, to: table, dataType: "text", foreignTable: target)
        return true
    }

    /// Creates the column from the value's type, or checks the value against it (an integer column widens to float).
    mutating func checkType(
        _ value: JSONValue, column: String, of table: String, path: String, context: inout WriteContext
    ) -> Bool {
        guard let kind = Self.dataType(of: value) else { return true }
        guard let existing = tables[table]?.column(column) else {
            addColumn(column, to: table, dataType: kind, foreignTable: nil)
            return true
        }
        switch (existing.dataType, kind) {
        case (let a, let b) where a == b: return true
        case ("json", _), ("float", "integer"): return true
        case ("integer", "float"):
            setColumnType(column, of: table, to: "float")
            return true
        default:
            context.problems.append(.init(path, "Column '\(column)' holds \(existing.dataType) values, got \(kind)"))
            return false
        }
    }

    static func dataType(of value: JSONValue) -> String? {
        switch value {
        case .null: nil
        case .bool: "boolean"
        case .number(let number): number == number.rounded() && abs(number) < 9e15 ? "integer" : "float"
        case .string: "text"
        case .array, .object: "json"
        }
    }
}

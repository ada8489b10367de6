/// The organisation's tables as data/write leaves them. A table is created by its first write, with an `id` primary
/// key and columns typed from the first values they receive; a column that receives `@label` references or lookup
/// objects becomes a foreign key to that table (its SQL name gets an `_id` suffix, as on the platform). Tables that
/// hold series are raw tables. Each created row remembers the job execution that wrote it, for revert.
///
/// A value type: a write runs on a copy, which replaces the original only when the whole request succeeded.
struct LabricDatabase: Sendable {
    struct Column: Sendable {
        var id: Int
        var name: String
        var dataType: String
        var foreignTable: String?

        var isPrimaryKey: Bool { name == "id" }
        /// Foreign keys carry an `_id` suffix in SQL.
        var sqlName: String { foreignTable == nil || name.hasSuffix("_id") ? name : name + "_id" }
    }

    struct Row: Sendable {
        var values: [String: JSONValue]
        var executionID: String?

        var id: String { values["id"]?.stringValue ?? "" }
    }

    struct Table: Sendable {
        var id: Int
        var name: String
        var isRaw: Bool
        var columns: [Column]
        var rows: [Row] = []

        func column(_ name: String) -> Column? { columns.first { $0.name == name } }
        func rowIndex(id: String) -> Int? { rows.firstIndex { $0.id == id } }
    }

    private(set) var tables: [String: Table] = [:]
    /// Table names in creation order, which is the order the schema lists them in.
    private(set) var order: [String] = []
    private var nextTableID = 1
    private var nextColumnID = 1

    var orderedTables: [Table] { order.compactMap { tables[$0] } }

    mutating func createTable(_ name: String, raw: Bool) {
        guard tables[name] == nil else { return }
        tables[name] = Table(
            id: nextTableID, name: name, isRaw: raw,
            columns: [Column(id: nextColumnID, name: "id", dataType: "text", foreignTable: nil)]
        )
        nextTableID += 1
        nextColumnID += 1
        order.append(name)
    }

    mutating func addColumn(_ name: String, to table: String, dataType: String, foreignTable: String?) {
        guard tables[table]?.column(name) == nil else { return }
        tables[table]?.columns.append(
            Column(id: nextColumnID, name: name, dataType: dataType, foreignTable: foreignTable))
        nextColumnID += 1
    }

    mutating func setColumnType(_ name: String, of table: String, to dataType: String) {
        guard let index = tables[table]?.columns.firstIndex(where: { $0.name == name }) else { return }
        tables[table]?.columns[index].dataType = dataType
    }

    mutating func update(_ table: String, _ change: (inout Table) -> Void) {
        guard var value = tables[table] else { return }
        change(&value)
        tables[table] = value
    }

    /// The table and row holding a primary key, searching tables that are not raw.
    func locate(id: String) -> (table: String, index: Int)? {
        for name in order {
            guard let table = tables[name], !table.isRaw, let index = table.rowIndex(id: id) else { continue }
            return (name, index)
        }
        return nil
    }

    /// Rows of other tables whose foreign keys point at `id` in `table`, as (table, row id).
    func references(to id: String, in table: String) -> [(table: String, id: String)] {
        var found: [(String, String)] = []
        for name in order {
            guard let other = tables[name] else { continue }
            for column in other.columns where column.foreignTable == table {
                for row in other.rows where row.values[column.name]?.stringValue == id { found.append((name, row.id)) }
            }
        }
        return found
    }

    // MARK: Reading

    /// A row as the read tool returns it: column names to values, every column present.
    func readJSON(_ row: Row, of table: Table) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: table.columns.map { ($0.name, row.values[$0.name] ?? .null) }))
    }

    /// Rows whose columns equal every filter value (a lookup object matches the referenced row's fields).
    func rows(of table: Table, matching filters: [String: JSONValue]) -> [Row] {
        table.rows.filter { row in
            filters.allSatisfy { name, wanted in
                let value = row.values[name] ?? .null
                if case .object(let lookup) = wanted, let target = table.column(name)?.foreignTable,
                    let id = value.stringValue, let targetTable = tables[target],
                    let index = targetTable.rowIndex(id: id)
                {
                    return lookup.allSatisfy { targetTable.rows[index].values[$0.key] == $0.value }
                }
                return value == wanted
            }
        }
    }

    /// The schema entry of a table (QueryableTableSchema).
    func schemaJSON(_ table: Table) -> JSONValue {
        [
            "id": .number(Double(table.id)),
            "name": .string(table.name),
            "description": .null,
            "semantic_category": .string(table.isRaw ? "raw" : "curated"),
            "columns": .array(
                table.columns.map { column in
                    [
                        "id": .number(Double(column.id)),
                        "name": .string(column.name),
                        "sql_column_name": .string(column.sqlName),
                        "description": .null,
                        "data_type": .string(column.dataType),
                        "is_primary_key": .bool(column.isPrimaryKey),
                        "is_foreign_key": .bool(column.foreignTable != nil),
                        "is_nullable": .bool(!column.isPrimaryKey),
                        "is_unique": .bool(column.isPrimaryKey),
                        "foreign_key_table_name": column.foreignTable.labricJSON,
                    ]
                }
            ),
        ]
    }

    /// A table as SQL sees it: physical column names, and rows keyed by them.
    func relation(_ name: String) -> LabricSQL.Relation? {
        guard let table = tables[name] else { return nil }
        let columns = table.columns.map(\.sqlName)
        let rows = table.rows.map { row in
            Dictionary(uniqueKeysWithValues: table.columns.map { ($0.sqlName, row.values[$0.name] ?? .null) })
        }
        return LabricSQL.Relation(columns: columns, rows: rows)
    }

    // MARK: Revert

    struct RevertOutcome: Sendable {
        var deleted = 0
        var rawsDeleted = 0
        var skipped = 0
        var warnings: [String] = []
    }

    /// Deletes the rows an execution created and the raw rows that belong to them. A created row that rows of other
    /// executions still point at is kept (skipped), since deleting it would break them.
    mutating func revert(execution: String) -> RevertOutcome {
        var outcome = RevertOutcome()
        for name in order {
            guard let table = tables[name] else { continue }
            for row in table.rows where row.executionID == execution {
                guard tables[name]?.rowIndex(id: row.id) != nil else { continue }
                let blocking = references(to: row.id, in: name).filter { reference in
                    guard let other = tables[reference.table], !other.isRaw,
                        let index = other.rowIndex(id: reference.id)
                    else { return false }
                    return other.rows[index].executionID != execution
                }
                if !blocking.isEmpty {
                    outcome.skipped += 1
                    outcome.warnings.append(
                        "Kept \(name) row \(row.id): \(blocking.count) row(s) written by other executions reference it"
                    )
                    continue
                }
                if table.isRaw { outcome.rawsDeleted += 1 } else { outcome.deleted += 1 }
                update(name) { $0.rows.removeAll { $0.id == row.id } }
                for reference in references(to: row.id, in: name) where tables[reference.table]?.isRaw == true {
                    update(reference.table) { $0.rows.removeAll { $0.id == reference.id } }
                    outcome.rawsDeleted += 1
                }
            }
        }
        return outcome
    }
}

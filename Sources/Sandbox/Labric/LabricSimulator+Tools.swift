import Foundation
import MicroHTTPServer

/// The read tool, SQL queries and the schema, over the tables written through data/write plus the platform tables.
extension LabricSimulator {
    func readTable(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let target = payload.string("target_name", required: true)
        let type = payload.choice("target_type", ["table", "core-table"], required: true)
        let filters = payload.object("filters") ?? [:]
        let mode = payload.choice("mode", ["single", "multiple"]) ?? "multiple"
        try payload.validate()
        guard let target, let type else { return ok([]) }
        let rows: [JSONValue] = try store.state.withLock { state in
            if type == "table" {
                guard let table = state.database.tables[target] else {
                    throw LabricAPIError.notFound("Table '\(target)' not found")
                }
                return state.database.rows(of: table, matching: filters).map { state.database.readJSON($0, of: table) }
            }
            guard let rows = Self.coreRows(target, in: state) else {
                throw LabricAPIError.notFound("Core table '\(target)' not found")
            }
            return rows.filter { row in filters.allSatisfy { row[$0.key] == $0.value } }
        }
        if mode == "single" {
            guard rows.count == 1 else {
                throw rows.isEmpty
                    ? LabricAPIError.notFound("No \(target) record matches the filters")
                    : LabricAPIError.badRequest(
                        "\(rows.count) \(target) records match the filters; single mode needs exactly one")
            }
        }
        return ok(.array(rows))
    }

    func query(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let sql = payload.string("query", required: true)
        let params = payload.array("params") ?? []
        try payload.validate()
        guard let sql else { return ok([]) }
        let result: (columns: [String], rows: [[JSONValue]]) = try store.state.withLock { state in
            do throws(LabricSQL.Failure) {
                return try LabricSQL.execute(sql, params: params) { name in
                    state.database.relation(name) ?? Self.platformRelation(name, in: state)
                }
            } catch {
                throw LabricAPIError.badRequest(error.message)
            }
        }
        return ok([
            "columns": .array(result.columns.map { .string($0) }), "data": .array(result.rows.map { .array($0) }),
        ])
    }

    func schema(_ call: Call) async throws -> HTTPServerResponse {
        let tables = store.state.withLock { state in state.database.orderedTables.map(state.database.schemaJSON) }
        return ok(.array(tables + Self.platformTables.map(Self.platformSchemaJSON)))
    }

    // MARK: Platform tables

    /// The platform tables SQL can join against: name and columns. core_user comes last, as on the platform.
    static let platformTables: [(name: String, columns: [String])] = [
        ("core_experiment", ["id", "name", "created_at"]),
        ("core_instrument", ["id", "name", "model"]),
        ("core_job", ["id", "name", "description", "archived", "publish_status"]),
        ("core_user", ["id", "name", "email"]),
    ]

    static func platformSchemaJSON(_ table: (name: String, columns: [String])) -> JSONValue {
        [
            "id": .null,
            "name": .string(table.name),
            "description": .null,
            "semantic_category": .null,
            "columns": .array(
                table.columns.map { column in
                    [
                        "id": .null, "name": .string(column), "sql_column_name": .string(column), "description": .null,
                        "data_type": .string(
                            column == "archived" ? "boolean" : column == "created_at" ? "datetime" : "text"),
                        "is_primary_key": .bool(column == "id"), "is_foreign_key": false,
                        "is_nullable": .bool(column != "id"),
                        "is_unique": .bool(column == "id"), "foreign_key_table_name": .null,
                    ]
                }
            ),
        ]
    }

    static func platformRelation(_ name: String, in state: LabricStore.State) -> LabricSQL.Relation? {
        guard let table = platformTables.first(where: { $0.name == name }) else { return nil }
        let rows = coreRows(String(name.dropFirst("core_".count)), in: state) ?? []
        return LabricSQL.Relation(
            columns: table.columns,
            rows: rows.map { row in Dictionary(uniqueKeysWithValues: table.columns.map { ($0, row[$0] ?? .null) }) }
        )
    }

    /// Rows of a core table as the read tool returns them; nil for a core table the sandbox does not have.
    static func coreRows(_ name: String, in state: LabricStore.State) -> [JSONValue]? {
        switch name {
        case "table":
            return state.database.orderedTables.map { table in
                [
                    "id": .number(Double(table.id)), "name": .string(table.name), "description": .null,
                    "semantic_category": .string(table.isRaw ? "raw" : "curated"),
                ]
            }
        case "instrument":
            return state.instruments.map {
                ["id": .string($0.id), "name": .string($0.name), "model": .string($0.model)]
            }
        case "job":
            return state.jobs.values.sorted { $0.sequence > $1.sequence }.map(jobJSON)
        case "experiment":
            return []
        case "user":
            return [LabricSeed.user]
        default:
            return nil
        }
    }
}

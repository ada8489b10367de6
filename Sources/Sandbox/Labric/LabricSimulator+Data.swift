import Foundation
import MicroHTTPServer

/// `data/write` and the deprecated `tools/write` and `tools/batch-write`, which all run on one write engine
/// (`LabricDatabase`): a copy of the tables takes the whole request and replaces them only when nothing failed.
extension LabricSimulator {
    struct WriteResult: Sendable {
        var executionID: String?
        var tables: [JSONValue]
        var series: [JSONValue]
        var refs: [String: String]
    }

    func writeData(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let tableItems = payload.objects("tables") ?? []
        let seriesItems = payload.objects("series") ?? []
        let executionID = payload.string("job_execution_id")
        let jobName = payload.string("job_name")
        let dryRun = payload.bool("dry_run") ?? false
        let returnRows = payload.bool("return_rows") ?? false
        var writes: [LabricDatabase.TableWrite] = []
        for (index, item) in tableItems.enumerated() {
            var nested = LabricPayload(item, at: ["body", "payload", "tables", .number(Double(index))])
            let table = nested.string("table", required: true)
            let rows = nested.objects("rows", required: true)
            let mode = nested.choice("mode", ["insert", "upsert", "update", "delete"])
            let key = nested.array("key")?.compactMap(\.stringValue)
            let cascade = nested.bool("cascade")
            let onMatch = nested.choice("on_match", ["overwrite", "fill_missing"])
            payload.absorb(nested)
            guard let table, let rows else { continue }
            writes.append(
                .init(
                    table: table, rows: rows, mode: mode ?? "insert", key: key, cascade: cascade ?? false,
                    onMatch: onMatch ?? "overwrite")
            )
        }
        var series: [LabricDatabase.SeriesWrite] = []
        for (index, item) in seriesItems.enumerated() {
            var nested = LabricPayload(item, at: ["body", "payload", "series", .number(Double(index))])
            let table = nested.string("table", required: true)
            let parentColumn = nested.string("parent_column")
            let columns = nested.object("columns", required: true)
            if nested.raw("parent") == nil { _ = nested.string("parent", required: true) }
            payload.absorb(nested)
            guard let table, let parent = nested.raw("parent"), let columns else { continue }
            let lists = columns.mapValues { $0.arrayValue ?? [$0] }
            series.append(.init(table: table, parent: parent, parentColumn: parentColumn, columns: lists))
        }
        try payload.validate()
        guard !writes.isEmpty || !series.isEmpty else {
            throw LabricAPIError.writeProblems([.init(nil, "Nothing to write: pass tables or series")])
        }
        let result = try performWrite(
            writes, series, executionID: executionID, jobName: jobName, dryRun: dryRun, returnRows: returnRows
        )
        return ok([
            "job_execution_id": result.executionID.labricJSON,
            "tables": .array(result.tables),
            "series": .array(result.series),
            "refs": .object(result.refs.mapValues { .string($0) }),
        ])
    }

    /// Applies a write in one transaction. Without an execution, a new one is recorded under `jobName` (default
    /// "Off-Platform Manual Job") so the write can be reverted as a unit; a dry run records nothing.
    func performWrite(
        _ writes: [LabricDatabase.TableWrite], _ series: [LabricDatabase.SeriesWrite], executionID: String?,
        jobName: String?, dryRun: Bool, returnRows: Bool
    ) throws -> WriteResult {
        let now = now()
        return try store.state.withLock { state in
            if let executionID {
                guard let execution = state.executions[executionID] else {
                    throw LabricAPIError.notFound("Job execution not found")
                }
                let status = Self.effectiveStatus(execution, now: now)
                guard status == "running" || !execution.openedByCaller else {
                    throw LabricAPIError.badRequest(
                        "Job execution \(executionID) is \(status); open a new one to write")
                }
            }
            let attributed = dryRun ? nil : executionID ?? LabricIDs.uuid()
            var draft = state.database
            var context = LabricDatabase.WriteContext(before: state.database, executionID: attributed)
            let tables = writes.enumerated().map { draft.apply($1, at: $0, returnRows: returnRows, context: &context) }
            let seriesResults = series.enumerated().map { draft.apply($1, at: $0, context: &context) }
            guard context.problems.isEmpty else {
                var problems = Array(context.problems.prefix(100))
                if context.problems.count > 100 {
                    problems.append(.init(nil, "\(context.problems.count - 100) more problems were left out"))
                }
                throw LabricAPIError.writeProblems(problems)
            }
            if let attributed {
                state.database = draft
                if executionID == nil {
                    let job = Self.job(named: jobName ?? Self.defaultJobName, in: &state, now: now)
                    state.executions[attributed] = LabricStore.Execution(
                        id: attributed, jobID: job.id, status: "completed", startedAt: now, completedAt: now,
                        openedByCaller: false
                    )
                }
                state.executions[attributed]?.updatedRows += context.updated
                state.executions[attributed]?.deletedRows += context.deleted
            }
            return WriteResult(
                executionID: attributed, tables: tables, series: seriesResults,
                refs: context.refs.mapValues(\.id)
            )
        }
    }

    /// `tools/write` (deprecated): one table, modes `create` and `create-or-update`.
    func legacyWrite(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let target = payload.string("target_name", required: true)
        _ = payload.choice("target_type", ["table", "core-table"], required: true)
        let data = payload.objects("data", required: true)
        let mode = payload.choice("mode", ["create", "create-or-update", "update"], required: true)
        let match = payload.array("params_to_match_for_update")?.compactMap(\.stringValue)
        let onMatch = payload.choice("on_match", ["overwrite", "fill_missing"])
        let defaults = payload.object("defaults") ?? [:]
        let executionID = payload.string("job_execution_id")
        let jobName = payload.string("job_name")
        let collect = payload.bool("collect_output") ?? true
        let dryRun = payload.bool("dry_run") ?? false
        try payload.validate()
        guard let target, let data, let mode else { return ok([]) }
        let rows = data.map { row in
            var row = row
            for (column, value) in defaults where row[column] == nil {
                switch value.stringValue {
                case "DATETIME_NOW": row[column] = .string(Timestamp.iso(now()))
                case "UUID4": row[column] = .string(LabricIDs.uuid())
                default: row[column] = value
                }
            }
            return row
        }
        let write = LabricDatabase.TableWrite(
            table: target, rows: rows, mode: ["create": "insert", "update": "update"][mode] ?? "upsert", key: match,
            onMatch: onMatch ?? "fill_missing"
        )
        let result = try performWrite(
            [write], [], executionID: executionID, jobName: jobName, dryRun: dryRun, returnRows: true)
        return ok(collect ? (result.tables.first?["rows"] ?? []) : [])
    }

    /// `tools/batch-write` (deprecated): several tables in one transaction.
    func legacyBatchWrite(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let tables = payload.object("tables", required: true) ?? [:]
        let options = payload.object("options") ?? [:]
        try payload.validate()
        var settings = LabricPayload(options, location: ["body", "payload", "options"])
        let mode = settings.choice("mode", ["insert", "upsert"]) ?? "insert"
        let matchOn = settings.object("match_on") ?? [:]
        let dryRun = settings.bool("dry_run") ?? false
        let returnRecords = settings.bool("return_records") ?? false
        let executionID = settings.string("job_execution_id")
        let jobName = settings.string("job_name")
        try settings.validate()
        let writes = tables.sorted { $0.key < $1.key }.map { name, rows in
            LabricDatabase.TableWrite(
                table: name, rows: (rows.arrayValue ?? []).compactMap(\.objectValue), mode: mode,
                key: matchOn[name]?.arrayValue?.compactMap(\.stringValue)
            )
        }
        let result = try performWrite(
            writes, [], executionID: executionID, jobName: jobName, dryRun: dryRun, returnRows: returnRecords)
        var summary: [String: JSONValue] = [:]
        var records: [String: JSONValue] = [:]
        for table in result.tables {
            guard let name = table["table"]?.stringValue else { continue }
            summary[name] = ["created": table["created"] ?? 0, "updated": table["updated"] ?? 0]
            records[name] = table["rows"] ?? .null
        }
        let plan: JSONValue =
            dryRun
            ? [
                "insert_order": .array(writes.map { .string($0.table) }),
                "operations": .array(
                    writes.map {
                        ["table": .string($0.table), "mode": .string($0.mode), "rows": .number(Double($0.rows.count))]
                    }),
            ] : .null
        return ok([
            "success": true,
            "job_execution_id": result.executionID.labricJSON,
            "summary": .object(summary),
            "refs": .object(result.refs.mapValues { .string($0) }),
            "records": returnRecords ? .object(records) : .null,
            "plan": plan,
        ])
    }
}

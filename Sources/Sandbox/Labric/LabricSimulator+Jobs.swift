import Foundation
import MicroHTTPServer

/// Jobs (scripts the platform runs) and off-platform job executions: open, close (final, idempotent for the same
/// status), and revert.
extension LabricSimulator {
    static let defaultJobName = "Off-Platform Manual Job"
    static let triggerCategories = ["file_uploaded", "job_completed", "schedule"]

    func listJobs(_ call: Call) async throws -> HTTPServerResponse {
        var query = LabricPayload(queryItems(call.request), location: ["query"])
        let name = query.string("name")
        let archived = query.bool("archived") ?? false
        try query.validate()
        let jobs = store.state.withLock { Array($0.jobs.values) }
            .filter { (archived || !$0.archived) && (name == nil || $0.name == name) }
            .sorted { $0.sequence > $1.sequence }
        return ok(.array(jobs.map(Self.jobJSON)))
    }

    func createJob(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let name = payload.string("name", required: true)
        let code = payload.string("code", required: true)
        let description = payload.string("description")
        let trigger = readTrigger(&payload)
        let parameters = payload.objects("parameter_definitions")
        try payload.validate()
        guard let name, let code else { throw LabricAPIError.badRequest("name and code are required") }
        let definitions = try Self.parameterDefinitions(parameters)
        let now = now()
        let job = try store.state.withLock { state in
            guard !state.jobs.values.contains(where: { $0.name == name }) else {
                throw LabricAPIError.conflict("A job named '\(name)' already exists")
            }
            var job = LabricStore.Job(
                id: LabricIDs.uuid(), name: name, description: description, code: code, sequence: state.next(),
                createdAt: now)
            job.trigger = try Self.trigger(trigger, current: nil, in: state)
            job.parameterDefinitions = definitions
            state.jobs[job.id] = job
            return job
        }
        return ok(Self.jobJSON(job))
    }

    func updateJob(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let name = payload.string("name")
        let description = payload.string("description")
        let code = payload.string("code")
        let edits = payload.objects("edits")
        let archived = payload.bool("archived")
        let publish = payload.choice("publish_status", ["draft", "in_review", "published"])
        let trigger = readTrigger(&payload)
        let parameters = payload.objects("parameter_definitions")
        for (index, edit) in (edits ?? []).enumerated() {
            var nested = LabricPayload(edit, at: ["body", "payload", "edits", .number(Double(index))])
            _ = nested.string("old_string", required: true)
            _ = nested.string("new_string", required: true)
            payload.absorb(nested)
        }
        try payload.validate()
        if publish == "published", !call.key.allows(.admin) {
            throw LabricAPIError(403, "Publishing a job requires an API key with the 'admin' scope")
        }
        let definitions = try Self.parameterDefinitions(parameters)
        let id = call["id"]
        let hasDescription = payload.has("description")
        let job = try store.state.withLock { state in
            guard var job = state.jobs[id] else { throw LabricAPIError.notFound("Job not found") }
            if let name, name != job.name, state.jobs.values.contains(where: { $0.name == name }) {
                throw LabricAPIError.conflict("A job named '\(name)' already exists")
            }
            var script = code ?? job.code
            for (index, edit) in (edits ?? []).enumerated() {
                let old = edit["old_string"]?.stringValue ?? ""
                let matches = old.isEmpty ? 0 : script.components(separatedBy: old).count - 1
                guard matches == 1 else {
                    throw LabricAPIError.badRequest(
                        "edits[\(index)].old_string must match the script exactly once; it matches \(matches) times"
                    )
                }
                script = script.replacingOccurrences(of: old, with: edit["new_string"]?.stringValue ?? "")
            }
            if script != job.code {
                job.code = script
                job.scriptVersion += 1
            }
            if let name { job.name = name }
            if hasDescription { job.description = description }
            if let archived { job.archived = archived }
            if let publish { job.publishStatus = publish }
            job.trigger = try Self.trigger(trigger, current: job.trigger, in: state)
            if let definitions { job.parameterDefinitions = definitions }
            state.jobs[id] = job
            return job
        }
        return ok(Self.jobJSON(job))
    }

    func startExecution(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let jobID = payload.string("job_id")
        let jobName = payload.string("job_name")
        let timeout = payload.int("timeout_minutes", range: 1...43_200)
        try payload.validate()
        let now = now()
        let (execution, job) = try store.state.withLock { state in
            let job: LabricStore.Job
            if let jobID {
                guard let found = state.jobs[jobID] else { throw LabricAPIError.notFound("Job not found") }
                job = found
            } else {
                job = Self.job(named: jobName ?? Self.defaultJobName, in: &state, now: now)
            }
            let execution = LabricStore.Execution(
                id: LabricIDs.uuid(), jobID: job.id, startedAt: now, timeoutMinutes: timeout, openedByCaller: true
            )
            state.executions[execution.id] = execution
            return (execution, job)
        }
        return ok(Self.executionJSON(execution, job: job, now: now))
    }

    func closeExecution(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let status = payload.choice("status", ["completed", "failed"], required: true)
        try payload.validate()
        guard let status else { throw LabricAPIError.badRequest("status is required") }
        let id = call["id"]
        let now = now()
        let (execution, job) = try store.state.withLock { state in
            guard var execution = state.executions[id] else { throw LabricAPIError.notFound("Job execution not found") }
            guard execution.openedByCaller else {
                throw LabricAPIError.badRequest(
                    "Only executions opened with start can be closed; the platform records this one's status")
            }
            let current = Self.effectiveStatus(execution, now: now)
            if current == "running" {
                execution.status = status
                execution.completedAt = now
                state.executions[id] = execution
            } else if current != status {
                throw LabricAPIError.badRequest(
                    "The execution already \(current == "completed" ? "completed" : "failed"); its status is final")
            }
            return (execution, state.jobs[execution.jobID])
        }
        return ok(Self.executionJSON(execution, job: job, now: now))
    }

    func revertExecution(_ call: Call) async throws -> HTTPServerResponse {
        let id = call["id"]
        let outcome = try store.state.withLock { state in
            guard let execution = state.executions[id] else { throw LabricAPIError.notFound("Job execution not found") }
            var outcome = state.database.revert(execution: id)
            if execution.updatedRows > 0 {
                outcome.warnings.append(
                    "\(execution.updatedRows) updated row(s) were not reverted: updates cannot be undone")
            }
            if execution.deletedRows > 0 {
                outcome.warnings.append(
                    "\(execution.deletedRows) deleted row(s) were not restored: deletes cannot be undone")
            }
            return outcome
        }
        return ok([
            "deleted_count": .number(Double(outcome.deleted)),
            "raws_deleted_count": .number(Double(outcome.rawsDeleted)),
            "skipped_count": .number(Double(outcome.skipped)),
            "warnings": .array(outcome.warnings.map { .string($0) }),
        ])
    }

    // MARK: Helpers

    /// The job of that name, created (as a draft) when missing.
    static func job(named name: String, in state: inout LabricStore.State, now: Date) -> LabricStore.Job {
        if let job = state.jobs.values.first(where: { $0.name == name }) { return job }
        let job = LabricStore.Job(
            id: LabricIDs.uuid(), name: name, description: nil, code: "# Runs outside the platform\n",
            sequence: state.next(), createdAt: now
        )
        state.jobs[job.id] = job
        return job
    }

    /// An execution past its timeout has failed, whether or not anyone looked.
    static func effectiveStatus(_ execution: LabricStore.Execution, now: Date) -> String {
        if execution.status == "running", let minutes = execution.timeoutMinutes,
            now > execution.startedAt.addingTimeInterval(Double(minutes) * 60)
        {
            return "failed"
        }
        return execution.status
    }

    static func executionJSON(_ execution: LabricStore.Execution, job: LabricStore.Job?, now: Date) -> JSONValue {
        let status = effectiveStatus(execution, now: now)
        let completed =
            execution.completedAt
            ?? (status == "failed"
                ? execution.startedAt.addingTimeInterval(Double(execution.timeoutMinutes ?? 0) * 60) : nil)
        return [
            "job_execution_id": .string(execution.id),
            "job_id": .string(execution.jobID),
            "job_name": .string(job?.name ?? defaultJobName),
            "status": .string(status),
            "started_at": .string(Timestamp.iso(execution.startedAt)),
            "completed_at": completed.labricJSON,
        ]
    }

    static func jobJSON(_ job: LabricStore.Job) -> JSONValue {
        [
            "id": .string(job.id),
            "name": .string(job.name),
            "description": job.description.labricJSON,
            "archived": .bool(job.archived),
            "publish_status": .string(job.publishStatus),
            "trigger": job.trigger ?? .null,
            "parameter_definitions": job.parameterDefinitions ?? .null,
            "created_at": .string(Timestamp.iso(job.createdAt)),
        ]
    }
}

#!/usr/bin/env python3
"""A real client run of the official Labric SDK (labric==0.14.17) against a Labric API: the simulator directly,
or labgate in front of it. It touches every resource the sandbox serves and checks the typed errors.

    python labric_scenario.py [--gateway] BASE_URL API_KEY

BASE_URL is what the SDK gets as base_url (e.g. http://127.0.0.1:8081, or http://127.0.0.1:8080/labric through
labgate). API_KEY needs the read and write scopes. Prints one line per step; exits 1 on the first failure, and
treats any ParsingError (a response of the wrong shape) as a failure.

--gateway: BASE_URL is labgate's /labric route. labgate drops the client's Authorization and injects its own key,
so a bad client key never reaches the upstream and the UnauthorizedError step cannot happen: the scenario checks
instead that any key works, and that labgate's own errors (no_route) reach the SDK as its typed errors.
"""

import datetime as dt
import sys
import traceback
import uuid

import requests
from labric import Labric, ScriptEditSchema, SeriesWrite, StartJobExecutionSchema, TableWrite
from labric.core.api_error import ApiError
from labric.core.parse_error import ParsingError
from labric.errors import NotFoundError, UnauthorizedError

GATEWAY = "--gateway" in sys.argv[1:]
ARGS = [arg for arg in sys.argv[1:] if arg != "--gateway"]
if len(ARGS) != 2:
    sys.exit(__doc__)
BASE_URL, API_KEY = ARGS
client = Labric(base_url=BASE_URL, api_key=API_KEY)
run = uuid.uuid4().hex[:8]
state = {}


def step(name):
    def decorate(function):
        try:
            detail = function()
        except ParsingError as error:
            print(f"FAIL {name}: ParsingError (response of the wrong shape): {error.body!r} {error.cause!r}")
            sys.exit(1)
        except Exception as error:  # noqa: BLE001 - every failure ends the scenario with its trace
            print(f"FAIL {name}: {type(error).__name__}: {error}")
            traceback.print_exc()
            sys.exit(1)
        print(f"ok   {name}" + (f": {detail}" if detail else ""))
        return function

    return decorate


def check(condition, message):
    if not condition:
        raise AssertionError(message)


@step("instruments via tools.read(core-table)")
def _():
    instruments = client.tools.read(target_name="instrument", target_type="core-table")
    check(len(instruments) >= 1, "no instruments")
    state["instrument"] = instruments[0]
    return f"{len(instruments)} instruments, first {instruments[0]['name']!r}"


@step("jobs.create")
def _():
    job = client.jobs.create(name=f"scenario-{run}", code="print('hi')\n", description="SDK scenario")
    check(job.publish_status == "draft" and not job.archived, f"unexpected job {job}")
    state["job"] = job
    return job.id


@step("jobs.update (edits) and jobs.list(name)")
def _():
    job = client.jobs.update(
        state["job"].id, edits=[ScriptEditSchema(old_string="'hi'", new_string="'hello'")], description="edited"
    )
    check(job.description == "edited", "description not updated")
    listed = client.jobs.list(name=f"scenario-{run}")
    check([j.id for j in listed] == [job.id], f"list by name gave {listed}")
    return f"{len(client.jobs.list())} jobs listed"


@step("jobs.start (open executions)")
def _():
    execution = client.jobs.start(request=StartJobExecutionSchema(job_id=state["job"].id, timeout_minutes=60))
    check(execution.status == "running" and execution.job_id == state["job"].id, f"unexpected {execution}")
    default = client.jobs.start()
    check(default.job_name == "Off-Platform Manual Job", f"default execution under {default.job_name}")
    state["execution"] = execution.job_execution_id
    return execution.job_execution_id


@step("files.upload (signed URL: create, PUT, confirm)")
def _():
    content = b"well,od600\nA1,0.42\nA2,0.57\n"
    uploaded = client.files.upload(
        file=(f"scenario-{run}.csv", content, "text/csv"), job_execution_id=state["execution"]
    )
    check(uploaded.file_name == f"scenario-{run}.csv", f"unexpected {uploaded}")
    state["file"] = uploaded.file_id
    state["content"] = content
    return uploaded.file_id


@step("files.confirm_upload again returns the same record")
def _():
    again = client.files.confirm_upload(state["file"])
    check(again.file_id == state["file"], "different record")


@step("files.list (extensions, query, limit)")
def _():
    files = client.files.list(extensions="csv,txt", query=f"scenario {run}", limit=5)
    check(files and files[0].file_id == state["file"], f"upload not listed first: {files}")
    return f"{len(files)} file(s), crc32c {files[0].crc32c_hash}"


@step("files.get_content and the download")
def _():
    content = client.files.get_content(state["file"])
    check(content.text_preview == state["content"].decode(), "preview differs")
    check(content.preview_truncated is False, "preview truncated")
    downloaded = requests.get(content.download_url, timeout=30)
    downloaded.raise_for_status()
    check(downloaded.content == state["content"], "downloaded bytes differ")
    return f"{len(downloaded.content)} bytes downloaded"


@step("data.write (tables with refs, series)")
def _():
    result = client.data.write(
        tables=[
            TableWrite(table=f"sample_{run}", rows=[{"_ref": "s1", "name": "S-001", "mass_mg": 12.5}]),
            TableWrite(table=f"measurement_{run}", rows=[{"sample": "@s1", "od600": 0.42, "well": "A1"}]),
        ],
        series=[SeriesWrite(table=f"spectrum_{run}", parent="@s1", columns={"nm": [400, 410, 420], "abs": [0.1, 0.2, 0.3]})],
        job_execution_id=state["execution"],
        return_rows=True,
    )
    check(result.job_execution_id == state["execution"], "write not under the execution")
    check("s1" in result.refs and result.tables[0].ids == [result.refs["s1"]], f"refs {result.refs}")
    check(result.series[0].points_written == 3, f"series {result.series}")
    state["sample"] = result.refs["s1"]
    return f"refs {result.refs}"


@step("tools.execute_sql (SELECT with %s)")
def _():
    result = client.tools.execute_sql(
        query=f"SELECT name, mass_mg FROM sample_{run} WHERE name = %s LIMIT 10", params=["S-001"]
    )
    check(result.columns == ["name", "mass_mg"] and result.data == [["S-001", 12.5]], f"query gave {result}")
    joined = client.tools.execute_sql(query=f"SELECT * FROM measurement_{run} WHERE sample_id = %s", params=[state["sample"]])
    check(len(joined.data) == 1, f"foreign key column: {joined}")
    return f"{result.data}"


@step("tools.get_schema")
def _():
    tables = {t.name: t for t in client.tools.get_schema()}
    measurement = tables[f"measurement_{run}"]
    column = next(c for c in measurement.columns if c.name == "sample")
    check(column.is_foreign_key and column.sql_column_name == "sample_id", f"column {column}")
    check(tables[f"spectrum_{run}"].semantic_category == "raw", "series table not raw")
    return f"{len(tables)} tables"


@step("tools.read and get_table_id_by_name")
def _():
    rows = client.tools.read(target_name=f"sample_{run}", target_type="table", filters={"name": "S-001"}, mode="single")
    check(rows[0]["id"] == state["sample"], f"read {rows}")
    table_id = client.get_table_id_by_name(f"sample_{run}")
    return f"table id {table_id}"


@step("notifications.send (delivered, then deduplicated)")
def _():
    first = client.notifications.send(title="Scenario done", dedupe_key=f"scenario-{run}", body="All steps ran")
    second = client.notifications.send(title="Scenario done", dedupe_key=f"scenario-{run}")
    check(first.status == "delivered" and first.id, f"first {first}")
    check(second.status == "deduplicated" and second.id is None, f"second {second}")


@step("instruments.get_device_status_history")
def _():
    end = dt.datetime.now(dt.timezone.utc)
    history = client.instruments.get_device_status_history(
        state["instrument"]["id"], start_time=end - dt.timedelta(days=2), end_time=end
    )
    check(history.instrument.id == state["instrument"]["id"], "other instrument")
    return f"{len(history.statuses)} periods, now {history.current_status.value if history.current_status else None}"


@step("agent.run")
def _():
    result = client.agent.run(prompt="Which tables hold my samples?")
    check(result.output and result.tool_calls, f"run {result}")
    state["answer"] = result.output
    return f"{result.usage.total_tokens} tokens"


@step("agent.run_stream to its result event")
def _():
    kinds, text, final = [], "", None
    for event in client.agent.run_stream(prompt="Which tables hold my samples?"):
        kinds.append(event.type)
        if event.type == "text_delta":
            text += event.delta
        if event.type == "result":
            final = event.result
    check(final is not None and kinds[-1] == "result", f"events {kinds}")
    check(text == final.output == state["answer"], "streamed text differs from the result")
    return f"{len(kinds)} events"


@step("models.list and models.get")
def _():
    models = client.models.list()
    check(models, "no models")
    model = client.models.get(models[0].id)
    check(model.id == models[0].id, "get returned another model")
    return f"{len(models)} models, first {model.name!r} ({model.status})"


@step("jobs.close (twice with the same status) and revert")
def _():
    closed = client.jobs.close(state["execution"], status="completed")
    again = client.jobs.close(state["execution"], status="completed")
    check(closed.status == again.status == "completed" and closed.completed_at, f"close {closed}")
    write = client.data.write(tables=[TableWrite(table=f"sample_{run}", rows=[{"name": "S-002"}])])
    reverted = client.jobs.revert(write.job_execution_id)
    check(reverted.deleted_count == 1, f"revert {reverted}")
    return f"reverted {reverted.deleted_count} row(s)"


@step("NotFoundError for a missing file")
def _():
    try:
        client.files.get_content("00000000-0000-0000-0000-000000000000")
    except NotFoundError as error:
        return error.body.detail
    raise AssertionError("no NotFoundError")


if not GATEWAY:

    @step("UnauthorizedError with a bad key")
    def _():
        try:
            Labric(base_url=BASE_URL, api_key="lbk_bad_notakey").files.list()
        except UnauthorizedError as error:
            return error.body.detail
        except ApiError as error:
            raise AssertionError(f"ApiError {error.status_code} instead of UnauthorizedError") from error
        raise AssertionError("no UnauthorizedError")

else:

    @step("gateway: the client's key is replaced by labgate's")
    def _():
        files = Labric(base_url=BASE_URL, api_key="lbk_bad_notakey").files.list(query=f"scenario {run}")
        check(any(f.file_id == state["file"] for f in files), "upload not listed with another client key")

    @step("gateway: labgate's own no_route error is the SDK's NotFoundError")
    def _():
        elsewhere = BASE_URL.rstrip("/").rsplit("/", 1)[0] + "/no-such-upstream"
        try:
            Labric(base_url=elsewhere, api_key=API_KEY).files.list()
        except NotFoundError as error:
            raw = requests.get(elsewhere + "/api/v1/files", timeout=30).json()
            check(raw["code"] == "no_route" and raw["request_id"], f"error body {raw}")
            return error.body.detail
        raise AssertionError("no NotFoundError")


print("scenario passed")

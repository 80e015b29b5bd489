"""The operations on every face: who may do what (401/403), bad input (400/404), the task list with its
next run times, running a task now, and the history's filters and pages."""

import datetime as dt

import pytest
from conftest import ADMIN, OPERATOR, P_ADMIN, P_STRANGER, READER, STRANGER, history

import tasks
from dotdo_dev.testing import envelope, mcp_call, rpc_fails
from operations import service
from shared.clock import parse_iso
from shared.cron import CronSchedule

HTTP_OPERATIONS = [(op, method, path) for op in service.operations.values() for method, path in op.http]


def _name(value):
    return getattr(value, "name", value)


@pytest.mark.parametrize(("operation", "method", "path"), HTTP_OPERATIONS, ids=_name)
async def test_every_route_needs_a_token_and_its_permission(worker, operation, method, path):
    concrete = path.replace("{name}", "db-usage-rollup")
    body = {} if method == "POST" else None
    assert (await worker.fetch(concrete, method=method, json=body)).status == 401
    refused = await worker.fetch(concrete, method=method, headers=STRANGER, json=body)
    assert refused.status == 403
    assert (await refused.json())["error"]["details"] == {"permission": operation.permission}


async def test_readers_cannot_run_or_switch_tasks(worker, db):
    for action in ("run", "disable", "enable"):
        reply = await worker.fetch(f"/tasks/db-usage-rollup/{action}", method="POST", headers=READER, json={})
        assert reply.status == 403, action
    assert db.calls == []


@pytest.mark.parametrize("operation", list(service.operations.values()), ids=_name)
async def test_every_rpc_method_needs_its_permission(worker, operation):
    refused = await rpc_fails(worker, operation.name, P_STRANGER, {})
    assert (refused.code, refused.details) == ("FORBIDDEN", {"permission": operation.permission})
    assert (await rpc_fails(worker, operation.name, None, {})).code == "UNAUTHORIZED"


async def test_the_task_list_shows_each_cron_and_its_next_run_times(worker):
    before = dt.datetime.now(dt.UTC)
    reply = await worker.fetch("/tasks?next=2", headers=READER)
    listed = (await envelope(reply))["data"]
    assert reply.status == 200
    assert [t["name"] for t in listed] == list(tasks.TASKS)
    for entry in listed:
        expected = CronSchedule.parse(entry["cron"]).next_times(before, 2)
        assert [parse_iso(t) for t in entry["next_runs"]] == expected, entry["name"]
        assert entry["enabled"] is True
        assert entry["last_run"] is None
    by_name = {t["name"]: t for t in listed}
    assert by_name["webhooks-retry-failed"]["bound"] is True
    assert by_name["email-retry-failed"]["bound"] is False
    assert by_name["auth-expire-sessions"]["bound"] is True
    assert by_name["schedule-prune-history"]["binding"] is None


async def test_running_a_task_now_runs_it_and_records_who_asked(worker, db):
    reply = await worker.fetch("/tasks/db-usage-rollup/run", method="POST", headers=OPERATOR, json={})
    run = (await envelope(reply))["data"]
    assert reply.status == 200
    assert (run["task"], run["trigger"], run["actor"], run["status"]) == (
        "db-usage-rollup",
        "manual",
        "usr_ops",
        "succeeded",
    )
    assert [c[0] for c in db.calls] == ["usage_stats"]
    listed = (await envelope(await worker.fetch("/tasks/db-usage-rollup", headers=READER)))["data"]
    assert listed["last_run"]["id"] == run["id"]


async def test_running_a_task_of_an_unbound_service_is_skipped_not_faked(worker):
    reply = await worker.fetch("/tasks/email-retry-failed/run", method="POST", headers=ADMIN, json={})
    run = (await envelope(reply))["data"]
    assert (run["status"], run["reason"], run["attempts"]) == ("skipped", "email not bound", 0)


async def test_rpc_and_mcp_run_the_same_operation(worker, db):
    run = await worker.rpc("run_task", P_ADMIN, {"name": "db-usage-rollup"})
    assert run["status"] == "succeeded"
    assert run["actor"] == "usr_admin"
    status, reply = await mcp_call(
        worker, "tools/call", {"name": "schedule_history", "arguments": {"task": "db-usage-rollup"}}, headers=ADMIN
    )
    assert status == 200
    assert '"db-usage-rollup"' in reply["result"]["content"][0]["text"]
    _, listed = await mcp_call(worker, "tools/list", headers=READER)
    assert "schedule_run_task" not in {t["name"] for t in listed["result"]["tools"]}  # needs schedule:admin


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/tasks/no-such-task", "GET"),
        ("/tasks/no-such-task/run", "POST"),
        ("/tasks/no-such-task/disable", "POST"),
    ],
)
async def test_an_unknown_task_is_404(worker, path, method):
    reply = await worker.fetch(path, method=method, headers=ADMIN, json={} if method == "POST" else None)
    assert reply.status == 404
    body = await envelope(reply)
    assert body["error"]["code"] == "TASK_NOT_FOUND"
    assert "db-usage-rollup" in body["error"]["details"]["tasks"]


@pytest.mark.parametrize(
    "path",
    [
        "/history?limit=0",
        "/history?limit=101",
        "/history?offset=-1",
        "/history?status=exploded",
        "/history?trigger=whenever",
        "/history?since=yesterday",
        "/history?since=2026-12-01T00:00:00",  # no zone
        "/history?colour=red",
        "/tasks?next=0",
        "/tasks/Not_A_Name",
    ],
)
async def test_bad_input_is_400(worker, path):
    reply = await worker.fetch(path, headers=ADMIN)
    assert reply.status == 400, path
    assert (await envelope(reply))["error"]["code"] == "VALIDATION_ERROR"


async def test_a_run_with_a_body_it_does_not_take_is_400(worker, db):
    reply = await worker.fetch("/tasks/db-usage-rollup/run", method="POST", headers=ADMIN, json={"force": True})
    assert reply.status == 400
    assert db.calls == []


async def test_the_history_pages_and_filters(worker):
    for _ in range(5):
        await worker.fetch("/tasks/db-usage-rollup/run", method="POST", headers=ADMIN, json={})
    await worker.fetch("/tasks/email-retry-failed/run", method="POST", headers=ADMIN, json={})
    await worker.scheduled(tasks.HOURLY)

    first, meta = await history(worker, limit=3)
    assert (meta["total"], meta["limit"], meta["offset"], meta["has_more"]) == (8, 3, 0, True)
    second, _ = await history(worker, limit=3, offset=3)
    last, meta = await history(worker, limit=3, offset=6)
    assert (len(last), meta["has_more"]) == (2, False)
    ids = [r["id"] for r in first + second + last]
    assert len(set(ids)) == 8
    assert first[0]["trigger"] == "cron"  # newest first

    rollups, meta = await history(worker, task="db-usage-rollup", trigger="manual")
    assert meta["total"] == 5
    assert all(r["task"] == "db-usage-rollup" for r in rollups)
    skipped, meta = await history(worker, status="skipped")
    assert [r["task"] for r in skipped] == ["email-retry-failed"]
    _by_cron, meta = await history(worker, cron=tasks.HOURLY.replace(" ", "%20"))
    assert meta["total"] == 2
    _, meta = await history(worker, since="2999-01-01T00:00:00Z")
    assert meta["total"] == 0
    _, meta = await history(worker, until="2999-01-01T00:00:00Z")
    assert meta["total"] == 8

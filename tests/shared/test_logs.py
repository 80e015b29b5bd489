"""Log lines (shared/logs.py): one JSON object per line in the worker's output."""

import datetime
import json

from shared.logs import log, log_event


def test_a_log_line_is_one_json_object_on_one_line(capsys):
    log({"type": "audit", "service": "db", "actor": "usr_1", "note": "two\nlines"})
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # a newline inside a value stays escaped
    assert json.loads(out) == {"type": "audit", "service": "db", "actor": "usr_1", "note": "two\nlines"}


def test_a_value_json_cannot_hold_is_written_as_text_not_a_reason_to_lose_the_line(capsys):
    moment = datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)
    log({"type": "cleanup", "before": moment, "ids": {"a", "b"} - {"b"}})
    assert json.loads(capsys.readouterr().out) == {"type": "cleanup", "before": str(moment), "ids": "{'a'}"}


def test_an_event_is_its_type_and_fields(capsys):
    log_event("queue_retry", job_id="job_1", attempts=2, delay_seconds=None)
    line = json.loads(capsys.readouterr().out)
    assert line == {"type": "queue_retry", "job_id": "job_1", "attempts": 2, "delay_seconds": None}


class Gone:
    """A standard output whose reader went away."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


def test_a_log_that_cannot_be_written_loses_the_line_not_the_request(monkeypatch):
    for error in (BrokenPipeError(32, "Broken pipe"), ValueError("I/O operation on closed file.")):
        monkeypatch.setattr("sys.stdout", Gone(error))
        log({"type": "access", "status": 200})  # no exception: the request that logged it still answers
        log_event("queue_retry", job_id="job_1")


async def test_the_access_log_of_a_request_whose_log_is_gone_still_answers(monkeypatch):
    from workers import Request, Response

    from shared.middleware import AccessLogMiddleware
    from shared.routing import Context

    async def endpoint(request, ctx):
        return Response("ok")

    monkeypatch.setattr("sys.stdout", Gone(BrokenPipeError(32, "Broken pipe")))
    ctx = Context(env=None, worker_ctx=None, request_id="req_1")
    response = await AccessLogMiddleware("svc")(Request("https://svc.do/x"), ctx, endpoint)
    assert response.status == 200

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

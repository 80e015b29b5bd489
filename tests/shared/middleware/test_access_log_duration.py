"""The access log's duration: milliseconds from the request's start to its answer, to a hundredth.

Written against the mutants that survived `make mutate TARGET=shared/middleware/access_log.py` (docs/mutation.md).
"""

import json
import types

import pytest

from shared.middleware import AccessLogMiddleware
from shared.middleware import access_log as access_log_module
from shared.routing import Router


class Clock:
    def __init__(self, now):
        self.now = now

    def perf_counter(self):
        return self.now


@pytest.mark.parametrize(("start", "elapsed", "logged"), [(500.0, 0.0123456, 12.35), (2.0, 1.5, 1500.0)])
async def test_the_duration_is_logged_in_milliseconds_to_a_hundredth(
    monkeypatch, lines, request_for, start, elapsed, logged
):
    clock = Clock(start)
    monkeypatch.setattr(access_log_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    r = Router()
    r.use(AccessLogMiddleware("svc", sink=lines.append))

    async def slow(request, ctx):
        clock.now += elapsed
        return {"ok": True}

    r.add("GET", "/x", slow)
    await r.handle(request_for("/x"), None)
    assert json.loads(lines[0])["duration_ms"] == logged


def test_the_sink_is_a_keyword_only_option():
    with pytest.raises(TypeError):
        AccessLogMiddleware("svc", print)

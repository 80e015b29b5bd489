"""The error middleware's log line at its edges: the message cut to 500 characters, the trace to 8 frames.

Written against the mutants that survived `make mutate TARGET=shared/middleware/errors.py` (docs/mutation.md).
"""

import json

import pytest

from shared.middleware import ErrorMiddleware
from shared.routing import Router


def app(logs, handler):
    r = Router()
    r.use(ErrorMiddleware("svc", sink=logs.append))
    r.add("GET", "/x", handler)
    return r


@pytest.mark.parametrize(("length", "logged"), [(499, 499), (500, 500), (501, 500), (5000, 500)])
async def test_the_logged_message_is_cut_to_500_characters(lines, request_for, length, logged):
    async def broken(request, ctx):
        raise RuntimeError("m" * length)

    await app(lines, broken).handle(request_for("/x"), None)
    assert json.loads(lines[0])["message"] == "m" * logged


async def test_the_logged_trace_keeps_the_8_outermost_frames(lines, request_for):
    # two functions in turn: Python folds a run of identical frames into one "[Previous line repeated]"
    def ping(n):
        if n == 0:
            raise RuntimeError("deep down")
        pong(n - 1)

    def pong(n):
        ping(n)

    async def broken(request, ctx):
        ping(30)

    await app(lines, broken).handle(request_for("/x"), None)
    trace = json.loads(lines[0])["trace"]
    assert trace.count('File "') == 8
    assert trace.rstrip().endswith("RuntimeError: deep down")


def test_the_sink_is_a_keyword_only_option():
    with pytest.raises(TypeError):
        ErrorMiddleware("svc", print)

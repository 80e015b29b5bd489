"""Helpers for the `shared` tests: requests as a worker receives them, and a log sink."""

import pytest
from workers import Request


def make_request(path="/x", method="GET", headers=None, body=None):
    return Request(f"https://svc.do{path}", method=method, headers=headers or {}, body=body)


@pytest.fixture
def request_for():
    """`request_for(path, method=..., headers=..., body=...)` -> a `workers.Request` for https://svc.do<path>."""
    return make_request


@pytest.fixture
def lines():
    """A log sink: every line written ends up in this list."""
    return []

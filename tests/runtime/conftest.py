import pytest


class Clock:
    """A settable clock (unix seconds) for bindings that take `clock=`."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()

"""Every local platform process runs on uvloop's event loop (dotdo_dev/runtime/loop.py), or asyncio's when asked."""

import asyncio

import uvloop

from dotdo_dev.runtime import loop


async def which_loop() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_uvloop_by_default_and_asyncio_when_asked(monkeypatch):
    monkeypatch.delenv("DOTDO_EVENT_LOOP", raising=False)
    assert loop.run(which_loop()) == "uvloop"
    monkeypatch.setenv("DOTDO_EVENT_LOOP", "asyncio")
    assert loop.run(which_loop()) == "asyncio"
    assert issubclass(uvloop.Loop, asyncio.AbstractEventLoop)

"""The event loop every process of the local platform runs on.

`run(main)` is `asyncio.run(main)` on uvloop's loop when uvloop is installed (it is, with the tooling's
dependencies): the platform is many processes passing HTTP to each other, and most of a hop's CPU is the
event loop and the socket calls, which uvloop does in C. Worker code sees the same asyncio API either way;
`DOTDO_EVENT_LOOP=asyncio` keeps the standard loop (to compare, or to rule uvloop out).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop (uvloop's unless unavailable or turned off)."""
    if os.environ.get("DOTDO_EVENT_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)

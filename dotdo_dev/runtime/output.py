"""A worker's output as the platform shows it: each line on stderr tagged with the worker's name, the last
`OUTPUT_LINES` kept for `/__platform`. For a worker process (`platform.LocalPlatform._pump`) and for the
dispatcher in the platform's own process (`resident.py`) alike."""

from __future__ import annotations

import sys

OUTPUT_LINES = 200


def keep(kept: list[str], lines: list[str]) -> None:
    """Add `lines` to `kept`, which holds the last `OUTPUT_LINES` of them."""
    kept.extend(lines)
    del kept[:-OUTPUT_LINES]


def show(worker: str, lines: list[str]) -> None:
    """Write `lines` to stderr, each as `[worker] line`, in one write."""
    if lines:
        sys.stderr.write("".join(f"[{worker}] {line}\n" for line in lines))
        sys.stderr.flush()

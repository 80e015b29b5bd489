"""What every benchmark reports about a list of latencies (milliseconds)."""

from __future__ import annotations

import statistics


def percentiles(latencies: list[float], *, seconds: float | None = None) -> dict[str, float]:
    """`{"p50", "p99"}` of `latencies`, and `"rps"` when the wall time they took is given."""
    ordered = sorted(latencies)
    result = {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}
    if seconds is not None:
        result["rps"] = len(ordered) / seconds
    return result

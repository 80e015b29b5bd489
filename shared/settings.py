"""Reading a worker's settings (`vars` and secrets) from `env`, the same way everywhere."""

from __future__ import annotations

from typing import Any


def setting(env: Any, name: str) -> str | None:
    """`env.<name>` as a stripped string; None when it is missing or blank."""
    value = getattr(env, name, None)
    if value is None:
        return None
    text = str(value).strip()
    return text or None

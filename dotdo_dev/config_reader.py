"""Typed access to the values of a `wrangler.jsonc`, with errors that name the file and the key.

`dotdo_dev.config` reads a worker's own fields with it, and each binding kind
(`dotdo_dev.runtime.bindings`) its own keys, so every refusal reads alike:
`workers/db/wrangler.jsonc: d1_databases[0].binding: is required`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "ConfigReader"]


class ConfigError(ValueError):
    """A `wrangler.jsonc` that is malformed or holds a value of the wrong type."""

    def __init__(self, path: str | Path, message: str, *, key: str | None = None, line: int | None = None) -> None:
        self.path = str(path)
        self.key = key
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        prefix = f"{where}: " + (f"{key}: " if key else "")
        super().__init__(prefix + message)


class ConfigReader:
    """Reads values of one config file; `prefix` names the object a value sits in (`queues.producers[0]`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        """The error to raise for `key` (its full dotted name) of this file."""
        return ConfigError(self.path, message, key=key)

    @staticmethod
    def _key(prefix: str | None, key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    def string(self, d: Mapping[str, Any], key: str, *, required: bool = False, prefix: str | None = None) -> Any:
        """A string, or None when absent; `required`: present and not empty."""
        value = d.get(key)
        if value is None:
            if required:
                raise self.fail(self._key(prefix, key), "is required")
            return None
        if not isinstance(value, str) or (required and not value):
            raise self.fail(self._key(prefix, key), f"must be a non-empty string, not {value!r}")
        return value

    def strings(self, d: Mapping[str, Any], key: str, *, prefix: str | None = None) -> list[str]:
        """A list of strings (empty when absent)."""
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(self._key(prefix, key), "must be a list of strings")
        return list(value)

    def obj(self, d: Mapping[str, Any], key: str, *, prefix: str | None = None) -> dict[str, Any]:
        """An object (empty when absent)."""
        value = d.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(self._key(prefix, key), "must be an object")
        return value

    def objs(self, d: Mapping[str, Any], key: str, *, prefix: str | None = None) -> list[dict[str, Any]]:
        """A list of objects (empty when absent)."""
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(self._key(prefix, key), "must be a list of objects")
        return value

    def number(
        self,
        d: Mapping[str, Any],
        key: str,
        default: float,
        *,
        prefix: str | None = None,
        minimum: float = 0,
        maximum: float | None = None,
    ) -> Any:
        """A number from `minimum` to `maximum` (`default` when absent); a bool is not a number."""
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(self._key(prefix, key), f"must be a number, not {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            raise self.fail(self._key(prefix, key), f"must be between {minimum} and {maximum}, not {value!r}")
        return value

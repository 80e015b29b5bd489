"""Bindings the local runtime does not provide (Vectorize, Hyperdrive, Browser Rendering, ...).

A worker declaring one still runs locally, as Cloudflare's examples do when they declare a binding they do
not use (04-query-d1 declares `ai`): its `env.<NAME>` is a `NotProvided` whose every use raises
`NotImplementedError` naming the binding, its kind and its config section, instead of
`'Env' object has no attribute ...` at request time. The platform names them when the worker starts.
The sections and their kinds: `dotdo_dev.config.NOT_PROVIDED_LOCALLY`.
"""

from __future__ import annotations

from typing import Any


class NotProvided:
    """`env.<name>` for a binding of a kind the local runtime lacks: any attribute or call raises."""

    def __init__(self, name: str, section: str, kind: str) -> None:
        self._name, self._section, self._kind = name, section, kind

    def _refuse(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"env.{self._name}{what}: {self._kind} bindings (`{self._section}` in the worker's config) are not "
            "provided by the local runtime; the rest of the worker runs"
        )

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # what libraries probe (copy, inspect): not a use of the binding
            raise AttributeError(attribute)
        raise self._refuse(f".{attribute}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._refuse("(...)")

    def __repr__(self) -> str:
        return f"<env.{self._name}: {self._kind}, not provided locally>"


def binding_names(section: str, value: Any) -> list[str]:
    """The binding names a config section declares (`binding`, or `name` for send_email and unsafe)."""
    if section == "unsafe" and isinstance(value, dict):
        value = value.get("bindings") or []
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            name = item.get("binding") or item.get("name")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def not_provided_env(sections: dict[str, list[str]], kinds: dict[str, str]) -> dict[str, NotProvided]:
    """`env` entries for `{section: [binding names]}`: a `NotProvided` per name."""
    return {
        name: NotProvided(name, section, kinds.get(section, section))
        for section, names in sections.items()
        for name in names
    }

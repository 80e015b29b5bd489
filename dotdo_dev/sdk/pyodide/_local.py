"""How the local stand-ins for `pyodide` and `js` refuse what they do not provide.

A name that exists under Pyodide on Cloudflare but not in the local runtime raises
`NotProvidedError`, an `ImportError`, from the module's `__getattr__`. It is an `ImportError` (and not
an `AttributeError`) so that `from js import HTMLRewriter` shows this message instead of Python's
generic "cannot import name"; the price is that `hasattr(js, "HTMLRewriter")` raises too. Names that
exist nowhere (not in Pyodide either) keep Python's usual `AttributeError`.
"""

from __future__ import annotations

from collections.abc import Mapping

DOCS = "docs/local-runtime.md, section 'pyodide.ffi and js'"


class NotProvidedError(ImportError):
    """A name of Pyodide's `pyodide` or `js` modules that the local runtime does not provide."""

    def __init__(self, module: str, name: str, reason: str) -> None:
        super().__init__(
            f"{module}.{name} is not provided by the local runtime (it exists under Pyodide on Cloudflare): "
            f"{reason}. See {DOCS}.",
            name=name,
        )


def missing(module: str, name: str, known: Mapping[str, str]) -> Exception:
    """The error for `module.name`: `NotProvidedError` for a known Pyodide name, else `AttributeError`."""
    if name in known:
        return NotProvidedError(module, name, known[name])
    return AttributeError(f"module {module!r} has no attribute {name!r} (not in the local runtime's stand-in)")

"""JSONC: JSON with `//` and `/* */` comments and trailing commas, as wrangler reads `wrangler.jsonc`.

Comments and trailing commas are blanked out in place (same length, newlines kept), so a JSON error
reports the line and column of the original file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JSONCError(ValueError):
    """A JSONC document that cannot be parsed. The message names the file, line and column."""

    def __init__(self, message: str, *, path: str | Path | None, line: int, column: int) -> None:
        self.path = str(path) if path is not None else "<string>"
        self.line = line
        self.column = column
        self.reason = message
        super().__init__(f"{self.path}:{line}:{column}: {message}")


def _blank(text: str) -> str:
    return "".join("\n" if ch == "\n" else " " for ch in text)


def strip(text: str, *, path: str | Path | None = None) -> str:
    """Return `text` with comments and trailing commas replaced by spaces (positions preserved)."""
    out: list[str] = []
    i, n = 0, len(text)
    pending_comma: int | None = None  # index in `out` of a comma that may turn out to be trailing
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                line, col = _position(text, i)
                raise JSONCError("unterminated string", path=path, line=line, column=col)
            out.append(text[i : j + 1])
            pending_comma = None
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(_blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                line, col = _position(text, i)
                raise JSONCError("unterminated /* comment", path=path, line=line, column=col)
            out.append(_blank(text[i : j + 2]))
            i = j + 2
        elif ch == ",":
            pending_comma = len(out)
            out.append(ch)
            i += 1
        elif ch in "]}":
            if pending_comma is not None:
                out[pending_comma] = " "
            pending_comma = None
            out.append(ch)
            i += 1
        else:
            if not ch.isspace():
                pending_comma = None
            out.append(ch)
            i += 1
    return "".join(out)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def loads(text: str, *, path: str | Path | None = None) -> Any:
    """Parse a JSONC document. Raises `JSONCError` naming the file, line and column."""
    cleaned = strip(text, path=path)
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise JSONCError(exc.msg, path=path, line=exc.lineno, column=exc.colno) from None


def load(path: str | Path) -> Any:
    """Read and parse a JSONC file."""
    p = Path(path)
    return loads(p.read_text(encoding="utf-8"), path=p)

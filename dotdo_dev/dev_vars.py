"""Local secrets: a worker's `.dev.vars`, made from its `.dev.vars.example` on the first `make dev`.

`.dev.vars.example` is committed and lists the secrets a worker reads (with empty values or
placeholders); `.dev.vars` is git-ignored and holds the values. A value written `<generate>` in
the example becomes 48 random URL-safe characters, `<generate:PREFIX>` the same after PREFIX (so
`<generate:sk_test_>` is a usable API key), and `<generate-base64:PREFIX>` PREFIX followed by the standard
base64 of 32 random bytes (so `<generate-base64:whsec_>` is a valid Svix / Standard Webhooks secret, whose
key is the base64 after `whsec_`). Existing `.dev.vars` files are never touched.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

EXAMPLE = ".dev.vars.example"
TARGET = ".dev.vars"
_PLACEHOLDER = re.compile(r"<generate(-base64)?(?::([A-Za-z0-9_-]{0,32}))?>")


def declared_names(worker_dir: Path) -> list[str]:
    """The secret names a worker's `.dev.vars.example` declares."""
    example = worker_dir / EXAMPLE
    if not example.is_file():
        return []
    names = []
    for line in example.read_text(encoding="utf-8").splitlines():
        key, sep, _ = line.strip().partition("=")
        if sep and not key.startswith("#") and key.strip().isidentifier():
            names.append(key.strip())
    return names


def _generate(placeholder: re.Match[str]) -> str:
    prefix = placeholder.group(2) or ""
    if placeholder.group(1):
        return prefix + base64.b64encode(secrets.token_bytes(32)).decode()
    return prefix + secrets.token_urlsafe(36)


def ensure_dev_vars(worker_dir: Path) -> Path | None:
    """Create `.dev.vars` from `.dev.vars.example` if it is missing; the new file's path, else None."""
    example, target = worker_dir / EXAMPLE, worker_dir / TARGET
    if not example.is_file() or target.exists():
        return None
    text = _PLACEHOLDER.sub(_generate, example.read_text("utf-8"))
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(text)
    return target

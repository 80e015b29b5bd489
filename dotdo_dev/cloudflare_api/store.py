"""Where the stand-in keeps scripts: a private folder (0700) under the platform's state folder.

    <state>/cloudflare-api/
        bundles/<sha256>/metadata.json, modules/<path>   content-addressed: the same bundle is kept once
        scripts.json                                     {"account": {name: record}, "namespaces": {ns: {name: record}}}

A record is what the API answers for the script (id, tag, etag = the bundle's hash, tags, dates, ...).
`scripts.json` is replaced atomically, so a failed write leaves the previous one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from dotdo_dev.cloudflare_api.validation import DEFAULT_COMPATIBILITY_DATE, Upload

FOLDER = "cloudflare-api"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def bundle_hash(upload: Upload) -> str:
    """sha256 over the metadata and every module (name, content type, bytes), in name order."""
    digest = hashlib.sha256()
    digest.update(json.dumps(upload.metadata, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(upload.modules):
        content_type, data = upload.modules[name]
        digest.update(f"\0{name}\0{content_type}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class ScriptStore:
    """Scripts of one account: account-level ones, and those of each dispatch namespace."""

    def __init__(self, state_root: Path, *, account_scripts: list[str] | tuple[str, ...] = ()) -> None:
        self.root = Path(state_root) / FOLDER
        self._private_dir(self.root)
        self.root.chmod(0o700)
        self.index_path = self.root / "scripts.json"
        self.seeded = frozenset(account_scripts)  # the platform's own workers: account-level, not uploaded here

    # -- reading ---------------------------------------------------------------------------------------
    def _index(self) -> dict[str, Any]:
        if not self.index_path.is_file():
            return {"account": {}, "namespaces": {}}
        return json.loads(self.index_path.read_text())

    def account_script_exists(self, name: str) -> bool:
        return name in self.seeded or name in self._index()["account"]

    def namespace_scripts(self, namespace: str) -> dict[str, dict[str, Any]]:
        return self._index()["namespaces"].get(namespace, {})

    def account_scripts(self) -> dict[str, dict[str, Any]]:
        return self._index()["account"]

    def bundle_dir(self, etag: str) -> Path:
        return self.root / "bundles" / etag

    # -- writing ---------------------------------------------------------------------------------------
    def put(self, upload: Upload, *, namespace: str | None) -> dict[str, Any]:
        """Store a validated upload (namespace None: account-level); the record the API answers."""
        etag = self.write_bundle(upload)
        index = self._index()
        scripts = index["account"] if namespace is None else index["namespaces"].setdefault(namespace, {})
        previous = scripts.get(upload.name)
        now = _now()
        metadata = upload.metadata
        record = {
            "id": upload.name,
            "tag": uuid.uuid4().hex,
            "etag": etag,
            "tags": list(metadata.get("tags", [])),
            "created_on": previous["created_on"] if previous else now,
            "modified_on": now,
            "compatibility_date": metadata.get("compatibility_date", DEFAULT_COMPATIBILITY_DATE),
            "compatibility_flags": list(metadata.get("compatibility_flags", [])),
            "handlers": ["fetch"],
            "named_handlers": [],
            "entry_point": metadata["main_module"],
            "has_modules": True,
            "has_assets": False,
            "migration_tag": None,
            "startup_time_ms": 0,
            "usage_model": "standard",
            "logpush": False,
            "placement_mode": None,
            "tail_consumers": None,
            "last_deployed_from": "api",
            "size_bytes": upload.size,
            "bindings": metadata.get("bindings", []),
        }
        scripts[upload.name] = record
        self._write_index(index)
        return record

    def delete(self, name: str, *, namespace: str | None) -> bool:
        index = self._index()
        scripts = index["account"] if namespace is None else index["namespaces"].get(namespace, {})
        if name not in scripts:
            return False
        del scripts[name]
        self._write_index(index)
        return True

    def write_bundle(self, upload: Upload) -> str:
        """Keep the upload's bundle (once per content); its etag."""
        etag = bundle_hash(upload)
        final = self.bundle_dir(etag)
        if final.is_dir():
            return etag
        staging = self.root / "bundles" / f".{etag}.{uuid.uuid4().hex}"
        for name, (_, data) in upload.modules.items():
            self._private_file(staging / "modules" / name, data)
        types = {name: content_type for name, (content_type, _) in upload.modules.items()}
        self._private_file(staging / "metadata.json", json.dumps(upload.metadata, indent=2).encode())
        self._private_file(staging / "modules.json", json.dumps(types, indent=2, sort_keys=True).encode())
        try:
            staging.rename(final)
        except OSError:  # stored meanwhile by another upload of the same bundle
            if not final.is_dir():
                raise
        return etag

    def _write_index(self, index: dict[str, Any]) -> None:
        tmp = self.index_path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        self._private_file(tmp, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
        os.replace(tmp, self.index_path)

    def _private_dir(self, path: Path) -> None:
        """`path` and any missing folder above it, each made 0700 (only this account may enter)."""
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)

    def _private_file(self, path: Path, data: bytes) -> None:
        self._private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

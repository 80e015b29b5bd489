"""The ASGI app: Cloudflare's script endpoints, on loopback, for the deploy worker to call.

    app = CloudflareAPI(state_root, tokens={"<token>"}, account_scripts=platform_scripts(repo))

Routes (base `/client/v4/accounts/{account_id}/workers`):
- `PUT    /dispatch/namespaces/{namespace}/scripts/{name}`   upload into a dispatch namespace
- `GET    /dispatch/namespaces/{namespace}/scripts[?tags=k:yes,j:no]`   list, with each script's tags
- `GET    /dispatch/namespaces/{namespace}/scripts/{name}`   one script's record
- `DELETE /dispatch/namespaces/{namespace}/scripts/{name}`
- `PUT    /scripts/{name}`                                   upload an account-level script
- `GET    /scripts`                                          list account-level scripts (seeded ones too)

Every request needs `Authorization: Bearer <token>` (else 401, code 10000). An upload is checked in
full (`validation.validate_upload`) before anything is stored, under one lock so the topology rule
sees the registry the store is written against. `on_upload` and `on_delete` let the local platform
run what is uploaded (`LocalPlatform`): an upload is answered once it runs, or refused if it cannot start.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from dotdo_dev.cloudflare_api import multipart
from dotdo_dev.cloudflare_api.errors import (
    AUTHENTICATION,
    METHOD_NOT_ALLOWED,
    NO_ROUTE,
    SCRIPT_NOT_FOUND_IN_NAMESPACE,
    SCRIPT_TOO_LARGE,
    CloudflareError,
    envelope,
    error_envelope,
)
from dotdo_dev.cloudflare_api.store import ScriptStore
from dotdo_dev.cloudflare_api.validation import DEFAULT_SIZE_LIMIT, MIB, check_script_name, validate_upload

#: Called with (namespace or None, script name, bundle folder) once an upload is valid and its bundle
#: kept, before it is recorded: the local platform runs it there, and raises `CloudflareError` to refuse it.
UploadHook = Callable[[str | None, str, Path], Awaitable[None]]
#: Called with (namespace or None, script name) after a script is deleted.
DeleteHook = Callable[[str | None, str], Awaitable[None]]

PREFIX = "/client/v4/accounts/"
_NAMESPACE = re.compile(r"^/client/v4/accounts/([^/]+)/workers/dispatch/namespaces/([^/]+)/scripts(?:/([^/]+))?/?$")
_ACCOUNT = re.compile(r"^/client/v4/accounts/([^/]+)/workers/scripts(?:/([^/]+))?/?$")
#: Room for the multipart framing and the metadata part above the modules' size limit.
FRAMING_ALLOWANCE = MIB


class CloudflareAPI:
    """The stand-in for Cloudflare's Workers script API (one account)."""

    def __init__(
        self,
        state_root: Path,
        *,
        tokens: Iterable[str],
        account_scripts: Iterable[str] = (),
        account_id: str | None = None,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        on_upload: UploadHook | None = None,
        on_delete: DeleteHook | None = None,
    ) -> None:
        self.on_upload = on_upload
        self.on_delete = on_delete
        self.tokens = [t for t in tokens if t]
        if not self.tokens:
            raise ValueError("CloudflareAPI needs at least one API token")
        self.account_id = account_id
        self.size_limit = size_limit
        self.store = ScriptStore(state_root, account_scripts=tuple(account_scripts))
        self._lock = asyncio.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            status, body = await self._handle(scope, receive)
        except CloudflareError as error:
            status, body = error.status, error_envelope(error)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    # -- routing ---------------------------------------------------------------------------------------
    async def _handle(self, scope: dict[str, Any], receive: Any) -> tuple[int, dict[str, Any]]:
        path: str = scope["path"]
        method: str = scope["method"]
        self._authenticate(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if match := _NAMESPACE.match(path):
            account, namespace, name = (unquote(g) if g else g for g in match.groups())
            self._check_account(account)
            check_script_name(namespace)
            if name is None:
                if method == "GET":
                    return 200, envelope(self._list(self.store.namespace_scripts(namespace), query))
                raise _method_not_allowed(method, path)
            check_script_name(name)
            if method == "PUT":
                return 200, envelope(await self._upload(scope, receive, name, namespace))
            if method == "GET":
                return 200, envelope(self._namespace_script(namespace, name))
            if method == "DELETE":
                async with self._lock:
                    if not self.store.delete(name, namespace=namespace):
                        raise _not_in_namespace(namespace, name)
                    if self.on_delete is not None:
                        await self.on_delete(namespace, name)
                return 200, envelope(None)
            raise _method_not_allowed(method, path)
        if match := _ACCOUNT.match(path):
            account, name = (unquote(g) if g else g for g in match.groups())
            self._check_account(account)
            if name is None:
                if method == "GET":
                    return 200, envelope(self._list(self._account_records(), query))
                raise _method_not_allowed(method, path)
            check_script_name(name)
            if method == "PUT":
                return 200, envelope(await self._upload(scope, receive, name, None))
            raise _method_not_allowed(method, path)
        raise CloudflareError(404, NO_ROUTE, f"Could not route to {path}, perhaps your object identifier is invalid?")

    def _authenticate(self, scope: dict[str, Any]) -> None:
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        ok = scheme.lower() == "bearer" and token
        if not ok or not any(secrets.compare_digest(token.encode(), t.encode()) for t in self.tokens):
            raise CloudflareError(401, AUTHENTICATION, "Authentication error")

    def _check_account(self, account: str) -> None:
        if self.account_id is not None and account != self.account_id:
            raise CloudflareError(403, AUTHENTICATION, "Authentication error")

    # -- endpoints -------------------------------------------------------------------------------------
    async def _upload(self, scope: dict[str, Any], receive: Any, name: str, namespace: str | None) -> dict[str, Any]:
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        multipart.boundary_of(content_type)  # not multipart: refused before the body is read
        body = await self._read_body(headers, receive)
        parts = multipart.parse(body, content_type)
        async with self._lock:
            upload = validate_upload(
                name,
                parts,
                resolves=lambda service: self._resolves(service, name, namespace),
                size_limit=self.size_limit,
            )
            if self.on_upload is not None:  # the local platform starts it; a refusal stores nothing
                await self.on_upload(namespace, name, self.store.bundle_dir(self.store.write_bundle(upload)))
            return self.store.put(upload, namespace=namespace)

    def _resolves(self, service: str, uploading: str, namespace: str | None) -> bool:
        """The topology rule: a service binding resolves to account-level scripts only (an account-level
        script may also bind itself). A script of this or another namespace does not count."""
        if namespace is None and service == uploading:
            return True
        return self.store.account_script_exists(service)

    async def _read_body(self, headers: dict[bytes, bytes], receive: Any) -> bytes:
        cap = self.size_limit + FRAMING_ALLOWANCE
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise self._too_large()
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise CloudflareError(400, NO_ROUTE, "The client went away before the upload was complete.")
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > cap:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> CloudflareError:
        return CloudflareError(
            413, SCRIPT_TOO_LARGE, f"Your Worker exceeded the size limit of {self.size_limit / MIB:g} MiB."
        )

    def _namespace_script(self, namespace: str, name: str) -> dict[str, Any]:
        record = self.store.namespace_scripts(namespace).get(name)
        if record is None:
            raise _not_in_namespace(namespace, name)
        return {
            "created_on": record["created_on"],
            "modified_on": record["modified_on"],
            "dispatch_namespace": namespace,
            "script": record,
        }

    def _account_records(self) -> dict[str, dict[str, Any]]:
        records = {
            name: {"id": name, "tags": [], "created_on": None, "modified_on": None, "last_deployed_from": "platform"}
            for name in self.store.seeded
        }
        records.update(self.store.account_scripts())
        return records

    @staticmethod
    def _list(records: dict[str, dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Records by name; `?tags=k:yes,j:no` keeps those carrying `k` and not `j`."""
        wanted: list[tuple[str, bool]] = []
        for value in query.get("tags", []):
            for item in value.split(","):
                tag, _, flag = item.rpartition(":")
                if not tag or flag not in ("yes", "no"):
                    raise CloudflareError(400, NO_ROUTE, f"tags filter '{item}' must be '<tag>:yes' or '<tag>:no'.")
                wanted.append((tag, flag == "yes"))
        return [
            record
            for name, record in sorted(records.items())
            if all((tag in record.get("tags", [])) == present for tag, present in wanted)
        ]


def _not_in_namespace(namespace: str, name: str) -> CloudflareError:
    return CloudflareError(
        404, SCRIPT_NOT_FOUND_IN_NAMESPACE, f"Worker '{name}' not found in dispatch namespace '{namespace}'."
    )


def _method_not_allowed(method: str, path: str) -> CloudflareError:
    return CloudflareError(405, METHOD_NOT_ALLOWED, f"Method {method} is not allowed on {path}.")

"""What workerd does to some packages when a Python Worker imports them, reproduced for the harness.

Runs inside Pyodide (loaded by `conformance_harness`). These changes are workerd's, not the bundle's:
the runtime applies them to the worker's copy of a package as it is imported, so the conformance suite
applies them the same way, and only then.

- `httpx`: a Worker has no sockets, so workerd makes `httpx.AsyncClient` send each request with the
  JavaScript `fetch` (its `AsyncClient._send_single_request` is replaced; read in workerd's
  `src/pyodide/internal/patches/httpx.py`). The client's transport is then never used: a `transport=`
  given to an `AsyncClient` does nothing on Cloudflare. Content encodings are undone by `fetch`, so
  the `content-encoding` header is dropped.
"""

import importlib.abc
import importlib.util
import sys


async def _send_through_fetch(self, request):
    """`AsyncClient._send_single_request` as a Worker runs it: one `fetch`, no redirects followed here."""
    import httpx
    from js import Object, fetch
    from pyodide.ffi import to_js

    body = await request.aread()
    init = {"method": request.method, "headers": to_js([list(pair) for pair in request.headers.multi_items()])}
    if body:
        init["body"] = to_js(body)  # a Uint8Array
    reply = await fetch(str(request.url), to_js(init, dict_converter=Object.fromEntries))
    content = (await reply.arrayBuffer()).to_bytes()
    headers = [(key, value) for key, value in reply.headers.entries() if key.lower() != "content-encoding"]
    response = httpx.Response(reply.status, headers=headers, content=content, request=request)
    self.cookies.extract_cookies(response)
    return response


def _patch_httpx_client(module) -> None:
    module.AsyncClient._send_single_request = _send_through_fetch


PATCHES = {"httpx._client": _patch_httpx_client}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._patch(module)


class RuntimePatches(importlib.abc.MetaPathFinder):
    """Applies `PATCHES` to the bundle's packages as they are imported, as workerd does."""

    def find_spec(self, name, path, target=None):
        patch = PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install() -> None:
    if not any(isinstance(finder, RuntimePatches) for finder in sys.meta_path):
        sys.meta_path.insert(0, RuntimePatches())

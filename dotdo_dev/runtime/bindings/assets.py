"""Workers static assets: the `assets` section of a worker's config, served as Cloudflare serves it.

    "assets": {"directory": "./public", "binding": "ASSETS", "run_worker_first": false,
               "not_found_handling": "none", "html_handling": "auto-trailing-slash"}

What Cloudflare documents (developers.cloudflare.com/workers/static-assets/) and this module does:

- A request reaching the worker from outside (the front door, the dispatcher, a service binding without a
  named entrypoint) is answered from the directory when it matches a file, before the worker runs
  (`Assets.route`, called by the worker's host). A miss runs the worker, or, for a worker without `main`,
  gets `not_found_handling`. `run_worker_first: true` runs the worker for every request; a list of route
  patterns (`"/api/*"`, negative `"!/api/docs/*"`) sends matching requests to the worker and negative
  matches to the assets, anything else being routed as by default.
- Navigation requests (`Sec-Fetch-Mode: navigate`) that match no file get `not_found_handling` instead
  of the worker when the worker has `main`, sets a `not_found_handling`, has a compatibility date from
  2025-04-01 (or `assets_navigation_prefers_asset_serving`) and no list of `run_worker_first` patterns.
- `env.ASSETS.fetch(request_or_url)` (the binding) serves from the directory with `html_handling` and
  `not_found_handling` applied, never running the worker.
- Only GET and HEAD are served; another method for an asset gets a 405 with an empty body. HEAD gets the
  headers without a body. `html_handling` redirects with 307 to the canonical URL of an HTML file
  (`/index.html` -> `/`, `/about.html` -> `/about`, `/folder` -> `/folder/` ...). Every file has a
  `Content-Type` by its extension (text types with `charset=utf-8`), an `ETag` (a hash of the content;
  `If-None-Match` gives 304) and `Cache-Control: public, max-age=0, must-revalidate` unless the request
  carries `Authorization` or `Range`.
- `.assetsignore` in the directory (the `.gitignore` format) leaves files out, as wrangler leaves them out
  of the upload; `.assetsignore`, `_headers` and `_redirects` are never served. A file over 25 MiB
  (Cloudflare's per-file limit) refuses the config, naming it.
- Paths are normalised as a URL parser does (`.` and `..` segments, also as `%2e`, clamped at the root)
  and then looked up under the directory; a file whose real path is outside it (a symlink leading out)
  is never served.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack
from urllib.parse import quote, unquote, urlsplit

from workers import Request, Response, fetch
from workers.types import FetchKwargs

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, BindingKind, Sections

__all__ = ["ASSETS_RESOURCE", "Assets", "AssetsBinding", "AssetsConfig", "AssetsKind", "IgnoreRules"]

#: `BindingContext.resources` key of the worker's `Assets` (its host routes requests with it).
ASSETS_RESOURCE = "assets"
#: Cloudflare's per-file limit for static assets.
MAX_ASSET_BYTES = 25 * 1024 * 1024
NOT_FOUND_HANDLING = ("none", "404-page", "single-page-application")
HTML_HANDLING = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
#: Files wrangler never uploads as assets (`_headers` and `_redirects` are read as rules on Cloudflare).
ALWAYS_IGNORED = (".assetsignore", "_headers", "_redirects")
#: From this compatibility date a navigation request that matches no asset gets `not_found_handling`.
NAVIGATION_DATE = "2025-04-01"
CACHE_CONTROL = "public, max-age=0, must-revalidate"

# Types the standard library lacks or names differently from what Cloudflare serves (wrangler's `mime`).
_TYPE_OVERRIDES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".md": "text/markdown",
    ".map": "application/json",
    ".xml": "application/xml",
    ".gz": "application/gzip",
    ".ico": "image/vnd.microsoft.icon",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".jsonld": "application/ld+json",
    ".webmanifest": "application/manifest+json",
}
_TYPES = mimetypes.MimeTypes()  # the standard library's own table, not the machine's /etc/mime.types


def content_type(name: str) -> str:
    """The `Content-Type` of an asset named `name`: by its extension, `charset=utf-8` on text types."""
    suffix = Path(name).suffix.lower()
    found = _TYPE_OVERRIDES.get(suffix) or _TYPES.types_map[True].get(suffix) or _TYPES.types_map[False].get(suffix)
    found = found or "application/octet-stream"
    return f"{found}; charset=utf-8" if found.startswith("text/") else found


# -- .assetsignore ------------------------------------------------------------------------------------


class IgnoreRules:
    """The rules of a `.assetsignore` file, read as git reads a `.gitignore` at the root of the tree."""

    def __init__(self, text: str = "") -> None:
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []  # (pattern, negated, directories only)
        for line in text.splitlines():
            line = line.rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated or line.startswith("\\"):  # `\#`, `\!`: the character itself
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            self.rules.append((_glob_regex(line.lstrip("/"), anchored), negated, dir_only))

    def _matches(self, path: str, is_dir: bool) -> bool:
        ignored = False
        for pattern, negated, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            if pattern.fullmatch(path):
                ignored = not negated
        return ignored

    def ignores(self, path: str) -> bool:
        """Whether the file at `path` (relative, `/`-separated) is left out: it, or a folder above it, matches."""
        parts = path.split("/")
        if parts[-1] in ALWAYS_IGNORED:
            return True
        for i in range(1, len(parts)):
            if self._matches("/".join(parts[:i]), True):
                return True  # as in git, a file in an ignored folder cannot be taken back
        return self._matches(path, False)


def _glob_regex(glob: str, anchored: bool) -> re.Pattern[str]:
    """A gitignore pattern as a regular expression over a relative path (`**`, `*`, `?`, `[...]`)."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in glob[i + 2 :]:
            end = glob.index("]", i + 2)
            body = glob[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    body = "".join(out)
    return re.compile(body if anchored else f"(?:.*/)?{body}")


# -- the config -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetsConfig:
    """The `assets` section: its folder (absolute), binding name, routing and handling options."""

    directory: Path
    binding: str | None = None
    #: True, False, or the route patterns (`/api/*`, `!/api/docs/*`).
    run_worker_first: bool | tuple[str, ...] = False
    not_found_handling: str = "none"
    html_handling: str = "auto-trailing-slash"
    #: Whether the worker has a script (`main`): without one, a miss gets `not_found_handling`.
    has_main: bool = True
    #: Whether a navigation request that matches no asset gets `not_found_handling` (compatibility date).
    navigation_prefers_assets: bool = False


class AssetsKind(BindingKind):
    """`assets`: the worker's static files, served before it, and `env.<binding>` when a binding is named."""

    keys = ("assets",)

    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        if config.get("assets") is None:
            return {"assets": []}  # a list, as every section: none, or the worker's one collection
        section = reader.obj(config, "assets")
        has_main = bool(config.get("main"))
        directory = reader.string(section, "directory", required=True, prefix="assets")
        binding = reader.string(section, "binding", prefix="assets")
        if binding is not None and not binding.isidentifier():
            raise reader.fail("assets.binding", f"must be a name Python can use as an attribute, not {binding!r}")
        first = section.get("run_worker_first", False)
        if isinstance(first, list):
            first = tuple(_check_rules(reader, first))
        elif not isinstance(first, bool):
            raise reader.fail(
                "assets.run_worker_first", f"must be true, false or a list of route patterns, not {first!r}"
            )
        choices = {"not_found_handling": NOT_FOUND_HANDLING, "html_handling": HTML_HANDLING}
        chosen = {}
        for key, allowed in choices.items():
            value = section.get(key, allowed[0])
            if value not in allowed:
                raise reader.fail(f"assets.{key}", f"must be one of {', '.join(allowed)}, not {value!r}")
            chosen[key] = value
        if not has_main and binding:
            raise reader.fail(
                "assets.binding", "an assets-only Worker (no main) cannot have an assets binding; add main or remove it"
            )
        if not has_main and first:
            raise reader.fail("assets.run_worker_first", "needs a Worker script (main) to run first")
        root = (reader.path.parent / directory).resolve()
        if not root.is_dir():
            raise reader.fail("assets.directory", f"{directory} does not exist (looked for {root})")
        _check_sizes(reader, root)
        return {
            "assets": [
                AssetsConfig(
                    directory=root,
                    binding=binding,
                    run_worker_first=first,
                    not_found_handling=chosen["not_found_handling"],
                    html_handling=chosen["html_handling"],
                    has_main=has_main,
                    navigation_prefers_assets=_navigation_prefers_assets(config),
                )
            ]
        }

    def names(self, sections: Sections) -> list[str]:
        return [assets.binding for assets in sections["assets"] if assets.binding]

    def validate(self, reader: ConfigReader, sections: Sections, others: Collection[str]) -> None:
        for name in self.names(sections):
            if name in others:
                raise reader.fail(
                    "assets.binding", f"{name} is assigned to more than one binding (names must be unique)"
                )

    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        if not sections["assets"]:
            return {}
        (config,) = sections["assets"]
        assets = Assets(config)
        context.resources[ASSETS_RESOURCE] = assets
        return {config.binding: AssetsBinding(assets)} if config.binding else {}


def _check_rules(reader: ConfigReader, rules: list[Any]) -> list[str]:
    """`run_worker_first` patterns as wrangler takes them: paths, `!` for negative ones, one positive at least."""
    if not rules:
        raise reader.fail("assets.run_worker_first", "an empty list of rules; give at least one route pattern")
    for i, rule in enumerate(rules):
        if not isinstance(rule, str) or not rule.removeprefix("!").startswith("/"):
            raise reader.fail(
                f"assets.run_worker_first[{i}]", f"must be a path pattern starting with / or !/, not {rule!r}"
            )
    if all(rule.startswith("!") for rule in rules):
        raise reader.fail("assets.run_worker_first", "only negative rules; give at least one non-negative rule")
    return rules


def _check_sizes(reader: ConfigReader, root: Path) -> None:
    """Refuse the config when a file that would be uploaded is over Cloudflare's per-file limit."""
    ignore = read_ignore_rules(root)
    for rel, real in walk_assets(root, ignore):
        size = real.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise reader.fail(
                "assets.directory",
                f"{rel} is {size / 1024 / 1024:.1f} MiB; Cloudflare serves asset files of at most 25 MiB "
                "(list it in .assetsignore to leave it out)",
            )


def _navigation_prefers_assets(config: Mapping[str, Any]) -> bool:
    flags = config.get("compatibility_flags") or []
    if not isinstance(flags, list) or "assets_navigation_has_no_effect" in flags:
        return False
    date = config.get("compatibility_date")
    return "assets_navigation_prefers_asset_serving" in flags or (isinstance(date, str) and date >= NAVIGATION_DATE)


_IGNORE_CACHE: dict[Path, tuple[int, IgnoreRules]] = {}


def read_ignore_rules(root: Path) -> IgnoreRules:
    """The rules of `root/.assetsignore` (none without one), read again when the file changes."""
    path = root / ".assetsignore"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return IgnoreRules()
    cached = _IGNORE_CACHE.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, IgnoreRules(path.read_text(encoding="utf-8")))
        _IGNORE_CACHE[path] = cached
    return cached[1]


def walk_assets(root: Path, ignore: IgnoreRules) -> list[tuple[str, Path]]:
    """(relative path, real path) of every file served from `root`: not ignored, really inside it."""
    found = []
    real_root = Path(os.path.realpath(root))
    seen: set[Path] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        base = Path(folder)
        inside = Path(os.path.realpath(base))
        if not inside.is_relative_to(real_root) or inside in seen:
            dirs[:] = []  # a symlinked folder leading out of the directory, or back into one already walked
            continue
        seen.add(inside)
        for name in files:
            rel = (base / name).relative_to(root).as_posix()
            real = Path(os.path.realpath(base / name))
            if real.is_relative_to(real_root) and real.is_file() and not ignore.ignores(rel):
                found.append((rel, real))
    return found


# -- serving ---------------------------------------------------------------------------------------------


def normalise_path(raw: str) -> list[str] | None:
    """The decoded segments of a URL path after dot-segment removal as a URL parser does it (`.`, `..`,
    `%2e`, `.%2E` ..., backslashes as slashes, clamped at the root); None for a path no file can have
    (a NUL, a `/` encoded as `%2F` inside a segment, an escape that is not UTF-8)."""
    segments: list[str] = []
    parts = raw.replace("\\", "/").split("/")[1:]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        lowered = part.lower()
        if lowered in (".", "%2e"):
            if last:
                segments.append("")
            continue
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if segments:
                segments.pop()
            if last:
                segments.append("")
            continue
        try:
            decoded = unquote(part, errors="strict") if "%" in part else part
        except UnicodeDecodeError:
            return None  # bytes that are not UTF-8 name no file
        if "/" in decoded or "\0" in decoded or decoded in (".", ".."):
            return None
        segments.append(decoded)
    return segments or [""]


def _encode(path: str) -> str:
    return quote(path, safe="/:@!$&'()*+,;=-._~")


@dataclass(frozen=True)
class _Intent:
    """What a path resolves to: a file to serve (relative path) or a URL to redirect to."""

    file: str | None = None
    redirect: str | None = None


class Assets:
    """One worker's static assets: resolving paths, serving files, routing requests before the worker."""

    def __init__(self, config: AssetsConfig) -> None:
        self.config = config
        self.root = config.directory
        self.real_root = Path(os.path.realpath(config.directory))
        self._etags: dict[tuple[str, int, int], str] = {}

    # .. finding files ..
    def _file(self, rel: str) -> Path | None:
        """The real path of the asset at `rel`, if it is one: a file under the directory, not ignored."""
        if not rel or rel.startswith("/") or any(part in ("", ".", "..") for part in rel.split("/")):
            return None
        if read_ignore_rules(self.root).ignores(rel):
            return None
        real = Path(os.path.realpath(self.root / rel))
        if not real.is_relative_to(self.real_root) or not real.is_file():
            return None
        return real

    def resolve(self, raw_path: str) -> _Intent | None:
        """The file or redirect that `raw_path` (as in the URL) resolves to under `html_handling`, or None."""
        segments = normalise_path(raw_path)
        if segments is None:
            return None
        path = "/" + "/".join(segments)
        rel = path.lstrip("/")
        mode = self.config.html_handling
        if rel and not rel.endswith(".html") and self._file(rel) is not None:
            return _Intent(file=rel)
        if mode == "none":
            return _Intent(file=rel) if rel.endswith(".html") and self._file(rel) is not None else None
        # The page a path names: `/x`, `/x/`, `/x.html`, `/x/index`, `/x/index.html` all name `/x`.
        name = path.rstrip("/").removesuffix(".html")
        folder_form = path.endswith("/")
        if name == "/index" or name.endswith("/index"):
            name, folder_form = name.removesuffix("/index"), True
        as_file = f"{name.lstrip('/')}.html" if name else None
        as_folder = f"{name.lstrip('/')}/index.html" if name else "index.html"
        order = [(as_folder, True), (as_file, False)] if folder_form else [(as_file, False), (as_folder, True)]
        for candidate, is_folder in order:
            if candidate is None or self._file(candidate) is None:
                continue
            canonical = self._canonical(name, is_folder)
            if canonical == path:
                return _Intent(file=candidate)
            return _Intent(redirect=canonical)
        return None

    def _canonical(self, name: str, is_folder: bool) -> str:
        """The URL an HTML page is served at: `name` is `/x` for `x.html` or `x/index.html`, "" for the root."""
        if not name:
            return "/"
        mode = self.config.html_handling
        if mode == "force-trailing-slash" or (mode == "auto-trailing-slash" and is_folder):
            return name + "/"
        return name

    # .. responses ..
    async def serve(self, request: Request) -> Response:
        """Asset serving: the file, a redirect, or `not_found_handling` (what `env.ASSETS.fetch` answers)."""
        method = request.method.value
        if method not in ("GET", "HEAD"):
            return Response(None, status=405)
        parts = urlsplit(request.url)
        intent = self.resolve(parts.path or "/")
        if intent is not None and intent.redirect is not None:
            location = _encode(intent.redirect) + (f"?{parts.query}" if parts.query else "")
            return Response(None, status=307, headers={"location": location})
        if intent is not None and intent.file is not None:
            return await self._respond(intent.file, 200, request)
        return await self._not_found(parts.path or "/", request)

    async def _not_found(self, raw_path: str, request: Request) -> Response:
        handling = self.config.not_found_handling
        if handling == "single-page-application" and self._file("index.html") is not None:
            return await self._respond("index.html", 200, request)
        if handling == "404-page":
            segments = normalise_path(raw_path) or [""]
            folders = segments[:-1]  # `/a/b/c` looks in a/b, a, then the root; `/a/b/` in a/b first
            while True:
                candidate = "/".join([*folders, "404.html"])
                if self._file(candidate) is not None:
                    return await self._respond(candidate, 404, request)
                if not folders:
                    break
                folders.pop()
        return Response(None, status=404)

    async def _respond(self, rel: str, status: int, request: Request) -> Response:
        real = self._file(rel)
        if real is None:
            return Response(None, status=404)
        data, etag = await asyncio.to_thread(self._read, rel, real)
        headers = [("content-type", content_type(rel)), ("etag", etag)]
        sent = {k.lower(): v for k, v in request._headers}
        if "authorization" not in sent and "range" not in sent:
            headers.append(("cache-control", CACHE_CONTROL))
        if status == 200 and _etag_matches(sent.get("if-none-match"), etag):
            return Response(None, status=304, headers=headers)
        body = None if request.method.value == "HEAD" else data
        return Response._from_parts(request.url, status, "", headers, body)

    def _read(self, rel: str, real: Path) -> tuple[bytes, str]:
        stat = real.stat()
        data = real.read_bytes()
        key = (rel, stat.st_mtime_ns, stat.st_size)
        etag = self._etags.get(key)
        if etag is None:
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            self._etags[key] = etag
        return data, etag

    # .. routing in front of the worker ..
    async def route(self, request: Request) -> Response | None:
        """The answer for a request reaching the worker from outside, or None when the worker should run."""
        config = self.config
        path = urlsplit(request.url).path or "/"
        if config.has_main:
            first = config.run_worker_first
            if first is True:
                return None
            if isinstance(first, tuple):
                normalised = "/" + "/".join(normalise_path(path) or [""])
                if any(_rule_matches(rule[1:], normalised) for rule in first if rule.startswith("!")):
                    return await self.serve(request)
                if any(_rule_matches(rule, normalised) for rule in first if not rule.startswith("!")):
                    return None
        if self.resolve(path) is not None or not config.has_main:
            return await self.serve(request)
        navigation = dict((k.lower(), v) for k, v in request._headers).get("sec-fetch-mode") == "navigate"
        if (
            navigation
            and config.navigation_prefers_assets
            and config.not_found_handling != "none"
            and not isinstance(config.run_worker_first, tuple)
        ):
            return await self.serve(request)
        return None


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def _rule_matches(rule: str, path: str) -> bool:
    """A `run_worker_first` pattern against a path: `*` stands for any characters, `/` included."""
    pattern = "".join(".*" if c == "*" else re.escape(c) for c in rule)
    return re.fullmatch(pattern, path) is not None


class AssetsBinding:
    """`env.ASSETS`: `fetch()` answers from the worker's static assets, as a Fetcher answers."""

    def __init__(self, assets: Assets) -> None:
        self._assets = assets

    def __repr__(self) -> str:
        return f"<Assets {self._assets.root}>"

    async def fetch(self, resource: str | Request, **other_options: Unpack[FetchKwargs]) -> Response:
        """The asset answer for a request or URL (`html_handling` and `not_found_handling` applied)."""
        return await fetch(resource, fetcher=self._assets.serve, **other_options)

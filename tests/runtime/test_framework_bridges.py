"""Framework workers as Cloudflare's examples write them (03-fastapi, 18-django, 19-django-todo-d1), with small
fixture workers of our own and only what the platform's environment has (Starlette for ASGI, plain WSGI
callables where the examples use Django):

* ASGI: `import asgi` (the SDK's top-level module), `asgi.fetch(app, request.js_object, self.env)`, path
  parameters, `scope["env"]`, JSON bodies in and out;
* WSGI: `wsgi.fetch(application, request, self.env)` with the application imported at module level, and
  from a mixin's `get_app()` (django-cf's `DjangoCF` shape), statuses with and without a body;
* WSGI + D1 the way django-cf's D1 backend calls it under Pyodide: from synchronous code,
  `pyodide.ffi.run_sync(env.DB.prepare(sql).bind(*params).raw())` for reads and `.all()` for writes, then
  `["results"]`, `["meta"]["last_row_id"]` / `["rows_written"]` / `["rows_read"]`, `row.values()`, and
  `from workers import env` inside the app; D1 errors raised through `run_sync`; the worker's other
  requests answered while the app waits;
* a dependency published only for Python >= 3.12 (django-cf 0.2) installed for the local Python anyway,
  and the SDK a dependency drags in (`workers-runtime-sdk`) kept out of the worker's folder.
"""

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from dotdo_dev import worker_deps
from dotdo_dev.testing import WorkerHarness, start_dev, stop_dev

ROOT = Path(__file__).resolve().parents[2]

ASGI_ENTRY = """import asgi
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from workers import WorkerEntrypoint


async def root(request):
    return JSONResponse({"message": "root"})


async def hi(request):
    return JSONResponse({"message": f"Hello, {request.path_params['name']}!"})


async def env(request):
    return JSONResponse({"message": f"var: {request.scope['env'].MESSAGE}"})


async def items(request):
    return JSONResponse({"got": await request.json(), "q": request.query_params.get("q")}, status_code=201)


app = Starlette(
    routes=[Route("/", root), Route("/hi/{name}", hi), Route("/env", env), Route("/items", items, methods=["POST"])]
)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request.js_object, self.env)
"""

WSGI_SITE = """import json


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        body = json.dumps({"message": "Hello from WSGI"}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    start_response("404 Not Found", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<h1>Not Found</h1>"]
"""

WSGI_ENTRY = """import os

from workers import WorkerEntrypoint, wsgi

os.environ.setdefault("SITE_SETTINGS", "fw_site_app.settings")

from fw_site_app.wsgi import application


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await wsgi.fetch(application, request, self.env)
"""

TODO_APP = """import asyncio
import json

from pyodide.ffi import can_run_sync, run_sync
from workers import env, wait_until


def respond(start_response, status, payload=None):
    if payload is None:
        start_response(status, [])
        return []
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(payload).encode()]


def query(sql, *params):
    # django-cf's D1 backend: raw() for reads, all() for writes
    statement = env.DB.prepare(sql)
    if params:
        statement = statement.bind(*params)
    if sql.lstrip().upper().startswith("SELECT"):
        return run_sync(statement.raw()), None
    response = run_sync(statement.all())
    meta = response["meta"]
    rows = [tuple(row.values()) for row in response["results"]]
    return rows, (meta["rows_read"], meta["rows_written"], meta["last_row_id"])


def application(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path == "/api/can-run-sync/":
        return respond(start_response, "200 OK", {"can": can_run_sync()})
    if path == "/api/slow/":
        run_sync(asyncio.sleep(0.4))
        return respond(start_response, "200 OK", {"slept": True})
    if path == "/api/later/":
        wait_until(env.DB.prepare("INSERT INTO todos (title, done) VALUES (?, ?)").bind("later", True).run())
        return respond(start_response, "202 Accepted", {"queued": True})
    if path == "/api/timeout/":
        try:
            run_sync(asyncio.wait_for(asyncio.sleep(5), 0.01))
        except TimeoutError:
            return respond(start_response, "504 Gateway Timeout", {"error": "timed out"})
    if path == "/api/todos/" and method == "GET":
        rows, _ = query("SELECT id, title, done FROM todos ORDER BY id DESC")
        todos = [{"id": i, "title": t, "done": bool(d)} for i, t, d in rows]
        return respond(start_response, "200 OK", {"todos": todos})
    if path == "/api/todos/" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
        try:
            rows, (_, written, last_row_id) = query(
                "INSERT INTO todos (title, done) VALUES (?, ?) RETURNING id", payload.get("title"), False
            )
        except Exception as exc:
            return respond(start_response, "409 Conflict", {"error": str(exc)})
        todo = {"id": rows[0][0], "title": payload["title"], "done": False}
        return respond(start_response, "201 Created", {"todo": todo, "written": written, "last": last_row_id})
    if path.startswith("/api/todos/") and method == "DELETE":
        todo_id = int(path.split("/")[3])
        _, (_, written, _) = query("DELETE FROM todos WHERE id = ?", todo_id)
        if not written:
            return respond(start_response, "404 Not Found", {"error": "TODO not found."})
        return respond(start_response, "204 No Content")
    return respond(start_response, "404 Not Found", {"error": "no route"})
"""

TODO_ENTRY = """from workers import WorkerEntrypoint, wsgi


class SyncApp:
    # django-cf's DjangoCF: the worker's class mixes it in and names the WSGI app in get_app()
    def get_app(self):
        raise NotImplementedError

    async def fetch(self, request):
        return await wsgi.fetch(self.get_app(), request, self.env)


class Default(SyncApp, WorkerEntrypoint):
    def get_app(self):
        from fw_todo_app import application

        return application
"""


def write_worker(folder: Path, files: dict[str, str], config: str) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "wrangler.jsonc").write_text(config)
    return folder


def config(name: str, main: str, extra: str = "") -> str:
    return (
        f'{{"name": "{name}", "main": "{main}", "compatibility_date": "2026-07-29",'
        f' "compatibility_flags": ["python_workers"]{extra}}}'
    )


# A process loads a worker's main module once: one folder per worker for the whole module, main modules named
# as no other worker of the test process names them; each test gets its own state.
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("frameworks")
    return {
        "asgi": write_worker(
            root / "asgi-site",
            {"src/fw_asgi_worker.py": ASGI_ENTRY},
            config("asgi-site", "src/fw_asgi_worker.py", ', "vars": {"MESSAGE": "My env var"}'),
        ),
        "wsgi": write_worker(
            root / "wsgi-site",
            {"src/fw_wsgi_entry.py": WSGI_ENTRY, "src/fw_site_app/wsgi.py": WSGI_SITE},
            config("wsgi-site", "src/fw_wsgi_entry.py"),
        ),
        "todo": write_worker(
            root / "todo-site",
            {"src/fw_todo_entry.py": TODO_ENTRY, "src/fw_todo_app.py": TODO_APP},
            config(
                "todo-site", "src/fw_todo_entry.py", ', "d1_databases": [{"binding": "DB", "database_name": "todo"}]'
            ),
        ),
    }


@pytest.fixture
def asgi_worker(folders, tmp_path):
    return WorkerHarness(folders["asgi"], state_dir=tmp_path / "state")


@pytest.fixture
def wsgi_worker(folders, tmp_path):
    return WorkerHarness(folders["wsgi"], state_dir=tmp_path / "state")


@pytest.fixture
async def todo_worker(folders, tmp_path):
    harness = WorkerHarness(folders["todo"], state_dir=tmp_path / "state")
    await harness.env.DB.exec(
        "CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, done BOOL NOT NULL)"
    )
    return harness


async def test_an_asgi_app_through_import_asgi_and_request_js_object(asgi_worker):
    root = await asgi_worker.fetch("/")
    assert (root.status, root.headers.get("content-type"), await root.text()) == (
        200,
        "application/json",
        '{"message":"root"}',
    )
    assert await (await asgi_worker.fetch("/hi/Dominik")).json() == {"message": "Hello, Dominik!"}
    assert await (await asgi_worker.fetch("/env")).json() == {"message": "var: My env var"}
    created = await asgi_worker.fetch("/items?q=x", method="POST", json={"name": "a", "price": 1.5})
    assert created.status == 201
    assert await created.json() == {"got": {"name": "a", "price": 1.5}, "q": "x"}
    assert (await asgi_worker.fetch("/nowhere")).status == 404


async def test_a_wsgi_app_imported_at_module_level(wsgi_worker):
    root = await wsgi_worker.fetch("/")
    assert (root.status, root.headers.get("content-type")) == (200, "application/json")
    assert await root.text() == '{"message": "Hello from WSGI"}'
    empty = await wsgi_worker.fetch("/empty")
    assert (empty.status, await empty.text()) == (204, "")
    missing = await wsgi_worker.fetch("/missing")
    assert (missing.status, missing.headers.get("content-type")) == (404, "text/html; charset=utf-8")


async def test_a_wsgi_app_queries_d1_through_run_sync_as_django_cf_does(todo_worker):
    assert await (await todo_worker.fetch("/api/todos/")).json() == {"todos": []}
    first = await todo_worker.fetch("/api/todos/", method="POST", json={"title": "Write it"})
    assert first.status == 201, await first.text()
    created = await first.json()
    assert created == {"todo": {"id": 1, "title": "Write it", "done": False}, "written": 1, "last": 1}
    second = await (await todo_worker.fetch("/api/todos/", method="POST", json={"title": "Ship it"})).json()
    assert second["todo"]["id"] == second["last"] == 2
    listed = await (await todo_worker.fetch("/api/todos/")).json()
    assert [t["title"] for t in listed["todos"]] == ["Ship it", "Write it"]
    assert listed["todos"][0]["done"] is False
    deleted = await todo_worker.fetch("/api/todos/1/", method="DELETE")
    assert (deleted.status, await deleted.text()) == (204, "")
    again = await todo_worker.fetch("/api/todos/1/", method="DELETE")
    assert (again.status, await again.json()) == (404, {"error": "TODO not found."})
    row = await todo_worker.env.DB.prepare("SELECT COUNT(*) AS n FROM todos").first("n")
    assert row == 1  # the writes reached the database file


async def test_a_d1_error_reaches_the_sync_app_through_run_sync(todo_worker):
    refused = await todo_worker.fetch("/api/todos/", method="POST", json={})  # title NULL
    assert refused.status == 409
    assert "NOT NULL constraint failed: todos.title: SQLITE_CONSTRAINT" in (await refused.json())["error"]


async def test_wait_until_from_the_sync_app_runs_on_the_workers_loop(todo_worker):
    queued = await todo_worker.fetch("/api/later/")  # the harness drains ctx.waitUntil work, as the host does
    assert (queued.status, await queued.json()) == (202, {"queued": True})
    rows = await todo_worker.env.DB.prepare("SELECT title, done FROM todos").all()
    assert [dict(row) for row in rows["results"]] == [{"title": "later", "done": 1}]


async def test_an_awaitables_own_timeout_error_reaches_the_sync_app(todo_worker):
    timed_out = await todo_worker.fetch("/api/timeout/")
    assert (timed_out.status, await timed_out.json()) == (504, {"error": "timed out"})


async def test_other_requests_are_answered_while_the_sync_app_waits(todo_worker):
    order = []

    async def call(path):
        response = await todo_worker.fetch(path)
        order.append(path)
        return response

    slow, quick = await asyncio.gather(call("/api/slow/"), call("/api/todos/"))
    assert (slow.status, quick.status) == (200, 200)
    assert order == ["/api/todos/", "/api/slow/"]


async def test_run_sync_works_in_the_apps_thread_and_says_why_not_on_the_loop(todo_worker):
    from pyodide.ffi import can_run_sync, run_sync

    assert await (await todo_worker.fetch("/api/can-run-sync/")).json() == {"can": True}
    assert can_run_sync() is False  # the event loop's own thread
    with pytest.raises(RuntimeError, match=r"run_sync\(\) cannot block here"):
        run_sync(asyncio.sleep(0))


def test_the_readme_steps_migrations_apply_then_dev_serve_the_wsgi_app_on_d1(tmp_path):
    """19-django-todo-d1's README, with our commands: `d1 migrations apply <db> --local`, then `dev`; the
    worker's own process (its host, uvicorn, the thread pool) serves the WSGI app and its D1 calls."""
    folder = write_worker(
        tmp_path / "todo-e2e",
        {
            "src/fw_todo_entry.py": TODO_ENTRY,
            "src/fw_todo_app.py": TODO_APP,
            "migrations/0001_todos.sql": "CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " title TEXT NOT NULL, done BOOL NOT NULL);\n",
        },
        config(
            "todo-e2e",
            "src/fw_todo_entry.py",
            ', "d1_databases": [{"binding": "DB", "database_name": "todo-e2e", "migrations_dir": "./migrations"}]',
        ),
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOTDO_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DOTDO_STATE_DIR", None)
    applied = subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "d1", "migrations", "apply", "todo-e2e", "--local"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert "applied 0001_todos.sql" in applied.stdout
    proc, url = start_dev(folder, env)
    try:
        created = httpx.post(f"{url}/api/todos/", json={"title": "from the README"}, timeout=10)
        assert created.status_code == 201, created.text
        assert created.json()["todo"] == {"id": 1, "title": "from the README", "done": False}
        listed = httpx.get(f"{url}/api/todos/", timeout=10)
        assert listed.json() == {"todos": [{"id": 1, "title": "from the README", "done": False}]}
    finally:
        stop_dev(proc)


# -- a worker's dependencies: one published only for newer Pythons, and the SDK kept out ------------------


def wheel(folder: Path, name: str, files: dict[str, str], metadata: str = "", version: str = "1.0") -> Path:
    """A wheel of `name` made by hand (no build backend, no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    contents = {
        **{k: v.encode() for k, v in files.items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for member, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in contents.items():
            zf.writestr(member, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture
def offline_index(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheel(wheels, "tinydep", {"tinydep/__init__.py": "GREETING = 'hello'\n"})
    wheel(
        wheels,
        "newonly",
        {"newonly/__init__.py": "from tinydep import GREETING\n"},
        "Requires-Python: >=3.12\nRequires-Dist: tinydep\nRequires-Dist: workers-runtime-sdk>=1.6.0\n",
    )
    wheel(wheels, "sdkuser", {"sdkuser/__init__.py": "X = 1\n"}, "Requires-Dist: workers-runtime-sdk\n")
    sdk = {"workers/__init__.py": "REAL_SDK = True\n", "asgi.py": ""}
    wheel(wheels, "workers_runtime_sdk", sdk, version="1.9.5")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return tmp_path / "cache"


def test_a_dependency_only_for_newer_pythons_is_installed_with_its_own_dependencies(offline_index, capsys):
    folder = worker_deps.install_folder([Requirement("newonly>=1.0")], offline_index)
    assert (folder / "newonly" / "__init__.py").is_file()
    assert (folder / "tinydep" / "__init__.py").is_file()  # its dependency, resolved for this Python
    assert not (folder / "workers").exists()  # its SDK dependency is the local runtime's
    assert (folder / ".ignored-requires-python").read_text() == "newonly>=1.0\n"
    assert "newonly>=1.0 has no version for Python" in capsys.readouterr().err


def test_the_sdk_a_dependency_drags_in_is_removed(offline_index):
    folder = worker_deps.install_folder([Requirement("sdkuser")], offline_index)
    assert (folder / "sdkuser" / "__init__.py").is_file()
    assert not (folder / "workers").exists()
    assert not (folder / "asgi.py").exists()
    assert not list(folder.glob("workers_runtime_sdk*"))
    assert not (folder / ".ignored-requires-python").exists()


def test_a_requirement_missing_for_other_reasons_still_fails(offline_index):
    with pytest.raises(worker_deps.DependencyError, match="cannot install nosuchdist") as info:
        worker_deps.install_folder([Requirement("nosuchdist")], offline_index)
    assert "ERROR: " in str(info.value)  # pip's own reason, in whole lines


def test_pips_reason_is_quoted_from_its_first_error_line_in_whole_lines():
    stderr = (
        "Collecting wasmsockets@ git+https://github.com/a/b\n  Cloning https://github.com/a/b to /tmp/x\n"
        "  fatal: unable to access 'https://github.com/a/b/': Could not resolve host: github.com\n"
        "  error: subprocess-exited-with-error\n  exit code: 128\n"
        "ERROR: Failed to build installable wheels for some pyproject.toml based projects\n"
    )
    said = worker_deps._pip_error(stderr)
    assert said.startswith("  fatal: unable to access")
    assert "Could not resolve host: github.com" in said
    assert said.endswith("pyproject.toml based projects")
    assert "Collecting" not in said
    long = worker_deps._pip_error("\n".join(f"line {n} " + "x" * 50 for n in range(100)))
    assert len(long) <= 800
    assert long.splitlines()[-1].startswith("line 99 ")
    assert all(line.startswith("line ") for line in long.splitlines())  # whole lines, none cut

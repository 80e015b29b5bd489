"""Local Durable Objects: `env.LIMITER.get(env.LIMITER.idFromName("k")).method(...)`, as on Cloudflare.

* One instance per object id, made on first use (`cls(ctx, env)`) and kept for the life of the
  worker process; its `ctx.storage` is a SQLite file of its own under the state folder, so it
  survives restarts (SQLite-backed Durable Objects, `new_sqlite_classes`).
* One request at a time per object: calls to the same object wait for each other (Cloudflare's
  input gates, taken at their strictest), so a read-modify-write in a method is atomic.
* Arguments and results of RPC methods cross the same serialization rules as service bindings.
* `idFromName` is deterministic (the same name gives the same id, 64 hex digits), `newUniqueId`
  random, `idFromString` checks the format. Objects of classes in other workers (`script_name`)
  are not offered locally: the binding fails with a clear message on first use.

Storage: the async key-value API (`await storage.get(key)`, `put`, `delete`, `list`, values any
JSON-serialisable data), `storage.sql.exec(query, *bindings)` (cursor with `toArray()`, `one()`,
iteration), `deleteAll()` (the alarm too, as from compatibility date 2026-02-24), `transaction(fn)`,
and alarms: `setAlarm(when)`, `getAlarm()`, `deleteAlarm()`, with the object's `alarm(alarm_info)`
handler run through its input gate (see `alarms.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers import DurableObject, Request
from workers._invocation import invocation
from workers.rpc import JsDict

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.bindings.alarms import RETRY_LIMIT, AlarmInvocationInfo, AlarmTimers, ObjectAlarm, stored_alarm
from dotdo_dev.runtime.bindings.kind import BindingContext, BindingKind, Sections
from dotdo_dev.runtime.errors import WorkerError
from dotdo_dev.runtime.handlers import durable_object_handler_arguments
from dotdo_dev.runtime.rpc import invoke_rpc
from dotdo_dev.runtime.sqlite import connect
from dotdo_dev.runtime.state import StateDir

__all__ = [
    "ALARMS_RESOURCE",
    "DurableObjectBindingConfig",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStorage",
    "DurableObjectsKind",
]

#: The folder of the state folder holding every object's storage: `do/<worker>/<class>/<object id>.sqlite`.
STATE_FOLDER = "do"
#: `BindingContext.resources` key: the worker's namespaces, whose alarms `Isolate.start_alarms` arms.
ALARMS_RESOURCE = "durable_object_alarms"
#: The error workerd gives `setAlarm` on an object without an `alarm()` handler.
NO_ALARM_HANDLER = "Your Durable Object class must have an alarm() handler in order to call setAlarm()"

log = logging.getLogger("dotdo.runtime")
_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_RESERVED = frozenset({"fetch", "alarm", "constructor", "webSocketMessage", "webSocketClose", "webSocketError"})


class DurableObjectId:
    """The id of one object: 64 hex digits (`str(id)`), and the name it was made from, if any."""

    def __init__(self, hex_id: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.name = name

    def toString(self) -> str:
        return self._hex

    def equals(self, other: DurableObjectId) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"DurableObjectId({self._hex[:12]}…{', ' + repr(self.name) if self.name else ''})"


class _Cursor:
    def __init__(self, rows: list[dict[str, Any]], written: int) -> None:
        self._rows = rows
        self.rowsRead = len(rows)
        self.rowsWritten = written

    def toArray(self) -> list[JsDict]:
        return [JsDict(r) for r in self._rows]

    def one(self) -> JsDict:
        if len(self._rows) != 1:
            raise Exception(f"Expected exactly one result from SQL query, but got {len(self._rows)}.")
        return JsDict(self._rows[0])

    def __iter__(self):
        return iter(self.toArray())


class _Sql:
    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage

    def exec(self, query: str, *bindings: Any) -> _Cursor:
        conn = self._storage._conn
        try:
            cursor = conn.execute(query, bindings)
            columns = [c[0] for c in cursor.description or ()]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            written = cursor.rowcount if cursor.rowcount > 0 else 0
        except sqlite3.Error as exc:
            raise Exception(f"SQL error: {exc}") from None
        return _Cursor(rows, written)


class _SyncKv:
    """`ctx.storage.kv`: the synchronous key-value API of a SQLite-backed object, on the same keys as the
    async one (`get`, `put`, `delete`, `list`)."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage

    def get(self, key: str) -> Any:
        row = self._storage._conn.execute("SELECT value FROM _kv WHERE key = ?", (_key(key),)).fetchone()
        return None if row is None else wire.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._storage._conn.execute(
            "INSERT INTO _kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_key(key), wire.dumps(value).decode()),
        )

    def delete(self, key: str) -> bool:
        return self._storage._conn.execute("DELETE FROM _kv WHERE key = ?", (_key(key),)).rowcount > 0

    def list(self, options: dict[str, Any] | None = None) -> list[list[Any]]:
        """[key, value] pairs in key order (`prefix`, `limit` as for the async `list`)."""
        options = options or {}
        prefix = options.get("prefix", "")
        rows = self._storage._conn.execute(
            "SELECT key, value FROM _kv WHERE key >= ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (prefix, len(prefix), prefix, int(options.get("limit", -1))),
        ).fetchall()
        return [[k, wire.loads(v)] for k, v in rows]


class DurableObjectStorage:
    """`ctx.storage` of one object, on its own SQLite file (keys and values in `_kv`, any SQL besides)."""

    def __init__(self, path: Path, on_alarm: Callable[[int | None], None] | None = None) -> None:
        """`on_alarm(scheduled_ms | None)` hears each change of the alarm's time (the namespace's timer)."""
        self._conn = connect(path)
        self._conn.isolation_level = None  # autocommit: each write is durable at once
        self._conn.execute("CREATE TABLE IF NOT EXISTS _kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.sql = _Sql(self)
        self.kv = _SyncKv(self)
        self._alarm = ObjectAlarm(self._conn, on_alarm)

    async def get(self, key: str | list[str]) -> Any:
        if isinstance(key, list):
            found = {}
            for k in key:
                value = await self.get(k)
                if value is not None:
                    found[k] = value
            return found
        row = self._conn.execute("SELECT value FROM _kv WHERE key = ?", (_key(key),)).fetchone()
        return None if row is None else wire.loads(row[0])

    async def put(self, key: str | dict[str, Any], value: Any = None) -> None:
        items = key.items() if isinstance(key, dict) else [(key, value)]
        for k, v in items:
            self._conn.execute(
                "INSERT INTO _kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_key(k), wire.dumps(v).decode()),
            )

    async def delete(self, key: str | list[str]) -> bool | int:
        keys = key if isinstance(key, list) else [key]
        removed = sum(self._conn.execute("DELETE FROM _kv WHERE key = ?", (_key(k),)).rowcount for k in keys)
        return removed if isinstance(key, list) else removed > 0

    async def list(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        options = options or {}
        prefix = options.get("prefix", "")
        limit = int(options.get("limit", -1))
        rows = self._conn.execute(
            "SELECT key, value FROM _kv WHERE key >= ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (prefix, len(prefix), prefix, limit),
        ).fetchall()
        return {k: wire.loads(v) for k, v in rows}

    async def deleteAll(self) -> None:
        self._conn.execute("DELETE FROM _kv")
        self._alarm.delete()

    # Alarms take effect when called, as a JS storage call does: awaiting the result is optional.
    def getAlarm(self, options: Any = None) -> _Settled:
        """The alarm's time in milliseconds since the epoch, or None (also while `alarm()` runs, unless it
        set a new one). `options` (`allowConcurrency`) has no effect locally."""
        return _Settled(self._alarm.get())

    def setAlarm(self, scheduled_time: Any, options: Any = None) -> _Settled:
        """Set the object's one alarm (replacing any) to `scheduled_time`: milliseconds since the epoch or
        a `datetime`; a past time fires at once. `options` (`allowUnconfirmed`, `allowConcurrency`) have
        no effect: every local write is confirmed at once."""
        self._alarm.set(scheduled_time)
        return _Settled(None)

    def deleteAlarm(self, options: Any = None) -> _Settled:
        """Unset the alarm, if one is set; called inside `alarm()`, no retry follows a failure."""
        self._alarm.delete()
        return _Settled(None)

    async def transaction(self, closure: Any) -> Any:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = closure(self)
            if inspect.isawaitable(result):
                result = await result
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._alarm.notify()  # an alarm set inside is undone with the rest
            raise
        self._conn.execute("COMMIT")
        return result


class _Settled:
    """An awaitable of a value already computed: what a settled JS promise is to `await`."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def __await__(self) -> Generator[Any, None, Any]:
        yield from ()  # nothing to wait for
        return self._value


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"Durable Object storage keys are strings, not {type(key).__name__}")
    return key


class DurableObjectAborted(Exception):
    """What `ctx.abort(reason)` raises: the object is reset (workerd's error cannot be caught; this one can)."""

    logged = True  # abort() logged it: a listener or handler it ends says nothing more


class DurableObjectState:
    """`self.ctx` of a Durable Object: its id, its storage, `blockConcurrencyWhile`, `waitUntil`, and the
    WebSocket Hibernation API (`acceptWebSocket`, `getWebSockets`, `getTags`), see `websockets` below."""

    def __init__(self, object_id: DurableObjectId, storage: DurableObjectStorage) -> None:
        self.id = object_id
        self.storage = storage
        self._pending: set[asyncio.Task[Any]] = set()
        self._sockets: list[Any] = []  # accepted for hibernation, until closed
        #: Set by the namespace: runs a WebSocket event through the object's handlers; resets the object.
        self._on_socket_event: Callable[[Any, str, tuple[Any, ...]], None] | None = None
        self._on_abort: Callable[[], None] | None = None

    # -- the WebSocket Hibernation API ---------------------------------------------------------------
    def acceptWebSocket(self, ws: Any, tags: Any = None) -> None:
        """Take the server end of a `WebSocketPair` for this object: its messages, closes and errors call the
        object's `webSocketMessage(ws, message)`, `webSocketClose(ws, code, reason, wasClean)` and
        `webSocketError(ws, error)`, one at a time through its input gate. `tags`: strings for `getWebSockets`."""
        from js._websocket import JsWebSocket

        if not isinstance(ws, JsWebSocket) or ws._peer is None:
            raise TypeError("acceptWebSocket() takes the server end of a WebSocketPair")
        if ws._accepted or ws._sink is not None:
            raise TypeError("acceptWebSocket() was given a WebSocket that was already accepted")
        names = list(tags or [])
        if not all(isinstance(tag, str) for tag in names):
            raise TypeError("acceptWebSocket() tags must be strings")
        ws._hibernatable = True
        ws._tags = names
        self._sockets.append(ws)
        ws._attach(self._socket_event)

    def getWebSockets(self, tag: str | None = None) -> list[Any]:
        """The sockets this object accepted that are not closed, those with `tag` if given."""
        self._sockets = [ws for ws in self._sockets if ws.readyState != ws.CLOSED]
        return [ws for ws in self._sockets if tag is None or tag in ws._tags]

    def getTags(self, ws: Any) -> list[str]:
        if ws not in self._sockets:
            raise TypeError("getTags() takes a WebSocket this object accepted with acceptWebSocket()")
        return list(ws._tags)

    def _socket_event(self, ws: Any, kind: str, args: tuple[Any, ...]) -> None:
        if self._on_socket_event is not None:
            self._on_socket_event(ws, kind, args)

    def abort(self, reason: Any = None) -> None:
        """Reset the object: the next request makes it again (`cls(ctx, env)`); its WebSockets are cut off.
        Raises `DurableObjectAborted` with `reason` (workerd's error cannot be caught; this one can)."""
        message = f"Durable Object {str(self.id)[:12]}… aborted" + (f": {reason}" if reason is not None else "")
        log.error("%s", message)
        for ws in list(self._sockets):
            ws._send_close(1006, "", False)
        self._sockets.clear()
        if self._on_abort is not None:
            self._on_abort()
        raise DurableObjectAborted(message)

    async def blockConcurrencyWhile(self, callback: Any) -> Any:
        result = callback()
        return await result if inspect.isawaitable(result) else result

    def waitUntil(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


class _Instance:
    def __init__(self, obj: Any, state: DurableObjectState) -> None:
        self.obj = obj
        self.state = state
        self.lock = asyncio.Lock()


class DurableObjectNamespace:
    """A `durable_objects` binding: ids and stubs for the objects of one class.

    `cls` is the class, from the main module of `worker` (the worker running here), and each object is
    made as `cls(ctx, env)`; None for a class of another worker, which fails on first use. Objects
    keep their storage under `state`."""

    def __init__(self, *, worker: str, class_name: str, cls: type | None, env: Any, state: StateDir) -> None:
        self._worker = worker
        self._class_name = class_name
        self._cls = cls
        self._env = env
        self._state = state
        self._instances: dict[str, _Instance] = {}
        self._hibernated: dict[str, DurableObjectState] = {}  # evicted objects whose WebSockets stay open
        self._socket_tasks: set[asyncio.Task[Any]] = set()
        self._timers = AlarmTimers(self._run_alarm)

    def idFromName(self, name: str) -> DurableObjectId:
        if not isinstance(name, str):
            raise TypeError("idFromName takes a string")
        digest = hashlib.sha256(f"{self._worker}\0{self._class_name}\0{name}".encode()).hexdigest()
        return DurableObjectId(digest, name)

    def newUniqueId(self, options: Any = None) -> DurableObjectId:
        return DurableObjectId(secrets.token_hex(32))

    def idFromString(self, value: str) -> DurableObjectId:
        if not isinstance(value, str) or not _HEX_ID.fullmatch(value):
            raise TypeError("Invalid Durable Object ID: must be 64 hex digits")
        return DurableObjectId(value)

    def get(self, object_id: DurableObjectId, options: Any = None) -> DurableObjectStub:
        if not isinstance(object_id, DurableObjectId):
            raise TypeError("get() takes a DurableObjectId (from idFromName, newUniqueId or idFromString)")
        return DurableObjectStub(self, object_id)

    def getByName(self, name: str, options: Any = None) -> DurableObjectStub:
        return self.get(self.idFromName(name))

    def _instance(self, object_id: DurableObjectId) -> _Instance:
        if self._cls is None:
            raise RuntimeError(
                f"Durable Object class {self._class_name!r} is not defined by this worker's main module "
                "(objects of other workers' classes are not available on the local platform)"
            )
        key = str(object_id)
        found = self._instances.get(key)
        if found is None:
            state = self._hibernated.pop(key, None)
            if state is None:
                storage = DurableObjectStorage(
                    self._state.file(STATE_FOLDER, self._worker, self._class_name, key),
                    on_alarm=lambda at: self._timers.arm(key, at),
                )
                state = DurableObjectState(object_id, storage)
            state._on_socket_event = lambda ws, kind, args: self._socket_event(key, ws, kind, args)
            state._on_abort = lambda: self._instances.pop(key, None)
            obj = self._cls(state, self._env)
            state.storage._alarm.handler_check = lambda: self._alarm_arguments(obj, AlarmInvocationInfo(0, False))
            found = self._instances[key] = _Instance(obj, state)
        return found

    # -- WebSockets (the Hibernation API) -------------------------------------------------------------
    def hibernate(self, object_id: DurableObjectId) -> bool:
        """Evict the object from memory as Cloudflare's hibernation does, keeping its storage and the WebSockets
        it accepted (with their attachments and tags): the next event makes it again with `cls(ctx, env)`.
        False if it is busy (a request or handler is running) or not in memory. Locally objects hibernate
        only when this is called (tests); on Cloudflare, when idle."""
        key = str(object_id)
        found = self._instances.get(key)
        if found is None or found.lock.locked():
            return False
        del self._instances[key]
        self._hibernated[key] = found.state
        return True

    def _socket_event(self, key: str, ws: Any, kind: str, args: tuple[Any, ...]) -> None:
        task = asyncio.ensure_future(self._run_socket_event(key, ws, kind, args))
        self._socket_tasks.add(task)
        task.add_done_callback(self._socket_tasks.discard)

    async def _run_socket_event(self, key: str, ws: Any, kind: str, args: tuple[Any, ...]) -> None:
        """Call the object's `webSocketMessage` / `webSocketClose` / `webSocketError` through its input gate,
        with as many of the documented arguments as it accepts; a close is answered after the handler."""
        from pyodide._values import JsBuffer

        name = {"message": "webSocketMessage", "close": "webSocketClose", "error": "webSocketError"}[kind]
        if kind == "message":
            data = args[0]
            arguments: tuple[Any, ...] = (ws, data if isinstance(data, str) else JsBuffer(data))
        elif kind == "close":
            arguments = (ws, *args)
        else:
            arguments = (ws, args[0])
        try:
            instance = self._instance(ws_object_id(self, key))
            async with instance.lock:
                handler = getattr(instance.obj, name, None)
                if callable(handler):
                    with invocation(self._env, instance.state):
                        result = handler(*durable_object_handler_arguments(self._class_name, name, handler, arguments))
                        if inspect.isawaitable(result):
                            await result
        except DurableObjectAborted:
            pass  # logged by abort()
        except Exception:
            log.exception("%s: %s of %s %s… raised", self._worker, name, self._class_name, key[:12])
        finally:
            if kind == "close":
                ws._after_close_event(args[0], args[1])

    # -- alarms ------------------------------------------------------------------------------------
    def start_alarms(self) -> None:
        """Arm the alarms kept in this class's object files (overdue ones run at once), as a restarted
        runtime does. Needs a running event loop."""
        if self._cls is None:
            return
        folder = self._state.file(STATE_FOLDER, self._worker, self._class_name, "_").parent
        for path in sorted(folder.glob("*.sqlite")):
            if not _HEX_ID.fullmatch(path.stem):
                continue
            if path.stem in self._instances:
                self._instances[path.stem].state.storage._alarm.notify()
                continue
            conn = connect(path)
            try:
                stored = stored_alarm(conn)
            finally:
                conn.close()
            if stored is not None:
                self._timers.arm(path.stem, stored[0])

    def stop_alarms(self) -> None:
        """Cancel the alarm timers and running alarm handlers (what the end of the worker's process does)."""
        self._timers.close()

    def _alarm_arguments(self, obj: Any, info: AlarmInvocationInfo) -> tuple[Any, ...]:
        handler = getattr(obj, "alarm", None)
        if not callable(handler):
            raise TypeError(f"{NO_ALARM_HANDLER} ({self._class_name} defines no `async def alarm(self, alarm_info)`)")
        return durable_object_handler_arguments(self._class_name, "alarm", handler, (info,))

    async def _run_alarm(self, key: str) -> None:
        """Run object `key`'s alarm if its time has come, through the object's input gate; on failure
        schedule the retry (or drop the alarm after the last one)."""
        try:
            instance = self._instance(DurableObjectId(key))
        except Exception:  # the class's constructor raised: the alarm stays stored for the next start
            log.exception("%s: cannot make %s %s… to run its alarm", self._worker, self._class_name, key[:12])
            return
        alarm = instance.state.storage._alarm
        async with instance.lock:
            due = alarm.due()
            if due is None:  # moved, deleted or already run while this wake-up waited
                alarm.notify()
                return
            retry_count = due[1]
            alarm.begin(retry_count)
            try:
                with invocation(self._env, instance.state):
                    arguments = self._alarm_arguments(instance.obj, AlarmInvocationInfo(retry_count, retry_count > 0))
                    result = instance.obj.alarm(*arguments)
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:
                delay = alarm.failed(retry_count)
                if delay is not None:
                    what = f"retry {retry_count + 1} of {RETRY_LIMIT} in {delay:g} s"
                elif retry_count >= RETRY_LIMIT:
                    what = f"giving up after {RETRY_LIMIT} retries"
                else:
                    what = "not retried: the handler set or deleted the alarm"
                log.warning(
                    "%s: alarm() of %s %s… raised %s: %s (%s)",
                    self._worker,
                    self._class_name,
                    key[:12],
                    type(exc).__name__,
                    exc,
                    what,
                )
            else:
                alarm.succeeded()
            alarm.notify()


class DurableObjectStub:
    """A stub for one object: its RPC methods, and `fetch`."""

    def __init__(self, namespace: DurableObjectNamespace, object_id: DurableObjectId) -> None:
        self._namespace = namespace
        self.id = object_id
        self.name = object_id.name

    async def fetch(self, request: Any, **options: Any) -> Any:
        if not isinstance(request, Request) or options:
            request = Request(request, **options)
        instance = self._namespace._instance(self.id)
        async with instance.lock:
            handler = instance.obj.fetch
            return await handler(
                *durable_object_handler_arguments(self._namespace._class_name, "fetch", handler, (request,))
            )

    def __getattr__(self, method: str):
        if method.startswith("_") or method in _RESERVED:
            raise AttributeError(method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            sent = wire.cross({"args": list(args), "kwargs": kwargs})
            instance = self._namespace._instance(self.id)
            async with instance.lock:
                result = await invoke_rpc(instance.obj, method, sent["args"], sent["kwargs"], reserved=_RESERVED)
            return wire.cross(result)

        call.__name__ = method
        return call


def ws_object_id(namespace: DurableObjectNamespace, key: str) -> DurableObjectId:
    """The id of object `key` (with its name, while its instance or hibernated state knows it)."""
    known = namespace._instances.get(key)
    state = known.state if known is not None else namespace._hibernated.get(key)
    return state.id if state is not None else DurableObjectId(key)


# -- the binding kind: `durable_objects` (and `migrations`) in wrangler.jsonc -----------------------


@dataclass(frozen=True)
class DurableObjectBindingConfig:
    """A `durable_objects.bindings` entry: `env.<name>` is the namespace of `class_name` (of `script_name`)."""

    name: str
    class_name: str
    script_name: str | None = None


class DurableObjectsKind(BindingKind):
    """`durable_objects.bindings`: `env.<name>` is a `DurableObjectNamespace`; each object keeps its
    storage in `<state>/do/<worker>/<class>/<object id>.sqlite`.

    A bound class of this worker must be created by a `migrations` entry, as wrangler requires
    (`config.durable_object_classes`: the classes created, minus deleted ones), and defined by the
    worker's main module as a `DurableObject`."""

    keys = ("durable_objects",)
    state_folder = STATE_FOLDER

    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        durable = reader.obj(config, "durable_objects")
        bindings = []
        for i, item in enumerate(reader.objs(durable, "bindings", prefix="durable_objects")):
            k = f"durable_objects.bindings[{i}]"
            bindings.append(
                DurableObjectBindingConfig(
                    name=reader.string(item, "name", required=True, prefix=k),
                    class_name=reader.string(item, "class_name", required=True, prefix=k),
                    script_name=reader.string(item, "script_name", prefix=k),
                )
            )
        classes: list[str] = []
        for i, item in enumerate(reader.objs(config, "migrations")):
            k = f"migrations[{i}]"
            reader.string(item, "tag", required=True, prefix=k)
            for key in ("new_sqlite_classes", "new_classes"):
                classes += reader.strings(item, key, prefix=k)
            for gone in reader.strings(item, "deleted_classes", prefix=k):
                if gone in classes:
                    classes.remove(gone)
        for i, binding in enumerate(bindings):
            if binding.script_name is None and binding.class_name not in classes:
                raise reader.fail(
                    f"durable_objects.bindings[{i}].class_name",
                    f"class {binding.class_name!r} is bound but no migration creates it "
                    '(add {"tag": "v1", "new_sqlite_classes": ["' + binding.class_name + '"]} to "migrations")',
                )
        return {"durable_objects": bindings, "durable_object_classes": classes}

    def names(self, sections: Sections) -> list[str]:
        return [o.name for o in sections["durable_objects"]]

    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        by_class: dict[tuple[str, str], DurableObjectNamespace] = {}  # two bindings of a class: the same objects
        namespaces = {}
        for o in sections["durable_objects"]:
            worker = o.script_name or context.worker
            namespace = by_class.get((worker, o.class_name))
            if namespace is None:
                namespace = by_class[worker, o.class_name] = DurableObjectNamespace(
                    worker=worker,
                    class_name=o.class_name,
                    cls=_own_class(o, context),
                    env=context.env,
                    state=context.state,
                )
            namespaces[o.name] = namespace
        context.resources.setdefault(ALARMS_RESOURCE, []).extend(by_class.values())
        return namespaces


def _own_class(binding: DurableObjectBindingConfig, context: BindingContext) -> type | None:
    """The bound class from the worker's main module (as workerd takes it at load); None for another
    worker's class."""
    if binding.script_name not in (None, context.worker):
        return None
    cls = getattr(context.module, binding.class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, DurableObject)):
        raise WorkerError(
            f"{context.main} must define `class {binding.class_name}(DurableObject)` "
            f"(bound as {binding.name} in {context.config_path.name})"
        )
    return cls

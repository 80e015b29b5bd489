"""Cloudflare Queues on a local SQLite file: producers, consumers, batching, retries and dead letters.

    await env.JOBS.send({"type": "x"}, delaySeconds=10)          # or a JS-style options dict
    await env.JOBS.sendBatch([{"body": 1}, {"body": 2, "delaySeconds": 5}])

    async def queue(self, batch, env, ctx):                       # the consumer worker's handler
        for message in batch.messages:
            ...; message.ack()    # or message.retry(delaySeconds=30)

One SQLite file (`QueueStore`) holds every local queue. Producers and consumers live in different
worker processes: every change is one `BEGIN IMMEDIATE` transaction, and a consumer takes a batch
by writing a lease on its messages, so a message is never in two batches at once. A process that
dies while holding a lease loses it after `LEASE_SECONDS`; the messages then come back.

Delivery follows Cloudflare:

* a batch is delivered when `max_batch_size` messages are waiting, or when the oldest has waited
  `max_batch_timeout` seconds; a message sent with a delay waits for it first;
* `message.ack()` / `message.retry()` decide for that message; `batch.ackAll()` / `retryAll()`
  for the messages not decided yet. The first call wins: a later contradicting call is ignored
  with a warning, as workerd does. Otherwise the handler's outcome decides: returned, acked;
  raised, retried (the whole batch except what was acked);
* a retry waits the `delaySeconds` given to `retry()`, else to `retryAll()`, else the consumer's
  `retry_delay`. A message delivered `max_retries + 1` times that is retried again moves to the
  `dead_letter_queue` (same id, body, content type and timestamp; attempts start again). Without
  a dead-letter queue it is kept in the store's dead table and an error is logged: Cloudflare
  would delete it, here nothing is ever dropped silently.

Stricter than Cloudflare on purpose: unknown option keys raise `QueueError` (Cloudflare ignores
them, so a snake_case `delay_seconds` would silently send without a delay), bodies must pass the
RPC check (`python_to_rpc`) and then suit their content type, and `None` is refused as a body
(it becomes JavaScript `undefined`, which Cloudflare refuses).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import math
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers import python_from_rpc, python_to_rpc

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.bindings.kind import BindingContext, BindingKind, Sections
from dotdo_dev.runtime.sqlite import connect
from dotdo_dev.runtime.state import StateDir

log = logging.getLogger("dotdo.queues")

CONTENT_TYPES = ("json", "text", "bytes", "v8")
DEFAULT_CONTENT_TYPE = "json"
# Cloudflare counts 1 KB as 1000 bytes.
MAX_MESSAGE_BYTES = 128_000
MAX_BATCH_BYTES = 256_000
MAX_BATCH_MESSAGES = 100
MAX_DELAY_SECONDS = 43_200
LEASE_SECONDS = 60.0
POLL_SECONDS = 0.05

_SEND_OPTIONS = frozenset({"contentType", "delaySeconds"})
_BATCH_OPTIONS = frozenset({"delaySeconds"})
_BATCH_MESSAGE_KEYS = frozenset({"body", "contentType", "delaySeconds"})
_RETRY_OPTIONS = frozenset({"delaySeconds"})
_SNAKE_CASE = {"content_type": "contentType", "delay_seconds": "delaySeconds", "delay": "delaySeconds"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    content_type TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    visible_at REAL NOT NULL,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
CREATE TABLE IF NOT EXISTS dead (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    content_type TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL,
    died REAL NOT NULL
);
"""
_SELECT_ROWS = "SELECT seq, id, queue, body, content_type, attempts, created, visible_at FROM messages "
_VISIBLE = "WHERE queue = ? AND visible_at <= ? AND (lease_until IS NULL OR lease_until <= ?) "
_SELECT_EXHAUSTED = _SELECT_ROWS + _VISIBLE + "AND attempts > ? ORDER BY seq"
_SELECT_BATCH = _SELECT_ROWS + _VISIBLE + "ORDER BY seq LIMIT ?"
_SELECT_QUEUE = (
    "SELECT id, body, content_type, attempts, created, visible_at, lease_until FROM messages "
    "WHERE queue = ? ORDER BY seq"
)
_INSERT_MESSAGE = "INSERT INTO messages (id, queue, body, content_type, created, visible_at) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_DEAD = "INSERT INTO dead (id, queue, body, content_type, attempts, created, died) VALUES (?, ?, ?, ?, ?, ?, ?)"


# Cloudflare's documented defaults and limits for queue consumers.
QUEUE_DEFAULT_BATCH_SIZE = 10
QUEUE_MAX_BATCH_SIZE = 100
QUEUE_DEFAULT_BATCH_TIMEOUT = 5.0
QUEUE_MAX_BATCH_TIMEOUT = 60.0
QUEUE_DEFAULT_MAX_RETRIES = 3
QUEUE_MAX_RETRIES = 100


@dataclass(frozen=True)
class QueueProducerConfig:
    """A `queues.producers` entry: `env.<binding>` sends to `queue`."""

    binding: str
    queue: str
    delivery_delay: int = 0


@dataclass(frozen=True)
class QueueConsumerConfig:
    """A `queues.consumers` entry: the worker's `queue` handler receives batches of `queue`."""

    queue: str
    max_batch_size: int = QUEUE_DEFAULT_BATCH_SIZE
    max_batch_timeout: float = QUEUE_DEFAULT_BATCH_TIMEOUT
    max_retries: int = QUEUE_DEFAULT_MAX_RETRIES
    retry_delay: int = 0
    dead_letter_queue: str | None = None


class QueueError(Exception):
    """A send, or an option, that Cloudflare Queues would refuse (or that we refuse on purpose)."""


# -- bodies -----------------------------------------------------------------------------------------


def _serialize(body: Any, content_type: Any) -> tuple[str, str, int]:
    """Check `body` for `content_type`; return (content type, stored text, size Cloudflare counts)."""
    if not isinstance(content_type, str) or content_type.lower() not in CONTENT_TYPES:
        raise QueueError(f"Unsupported queue message content type {content_type!r}; use one of {list(CONTENT_TYPES)}")
    content_type = content_type.lower()
    if body is None:
        raise QueueError("Message body cannot be None (it becomes JavaScript undefined, which Queues refuses)")
    sendable = python_to_rpc(body)  # TypeError for what cannot cross to Cloudflare's runtime at all
    if content_type == "json":
        try:
            text = json.dumps(sendable, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise QueueError(
                f"Message body is not JSON-serializable ({exc}); convert it, or send it with contentType 'v8'"
            ) from None
        return content_type, text, len(text.encode())
    if content_type == "text":
        if not isinstance(body, str):
            raise QueueError(f"Content type 'text' requires a str body, not {type(body).__name__}")
        return content_type, body, len(body.encode())
    if content_type == "bytes":
        if not isinstance(body, bytes):
            raise QueueError(f"Content type 'bytes' requires a bytes body, not {type(body).__name__}")
        return content_type, base64.b64encode(body).decode(), len(body)
    data = wire.dumps(sendable)
    return content_type, data.decode(), len(data)


def _deserialize(text: str, content_type: str) -> Any:
    """The body as the consumer receives it (objects are `JsDict`s, as from JavaScript)."""
    if content_type == "json":
        return python_from_rpc(json.loads(text))
    if content_type == "text":
        return text
    if content_type == "bytes":
        return base64.b64decode(text)
    return wire.loads(text.encode())


# -- options ----------------------------------------------------------------------------------------


def _options(what: str, options: Any, kwargs: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Merge a JS-style options dict with keyword arguments; unknown keys raise. `None` values are unset."""
    if options is not None and not isinstance(options, Mapping):
        raise QueueError(f"{what}: options must be a dict, not {type(options).__name__}")
    merged = {**(options or {}), **kwargs}
    _check_keys(what, merged, allowed)
    return {k: v for k, v in merged.items() if v is not None}


def _check_keys(what: str, given: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        hints = [f"{k!r} -> {_SNAKE_CASE[k]!r}" for k in unknown if _SNAKE_CASE.get(k) in allowed]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise QueueError(
            f"{what}: unknown option(s) {unknown}{hint}; allowed: {sorted(allowed)}. "
            "Cloudflare would silently ignore them; the local runtime refuses them on purpose."
        )


def _delay(value: Any, what: str = "delaySeconds") -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DELAY_SECONDS:
        raise QueueError(f"{what} must be a whole number of seconds from 0 to {MAX_DELAY_SECONDS}, not {value!r}")
    return value


def _retry_delay(what: str, options: Any, delay_seconds: Any) -> int | None:
    merged = _options(what, options, {} if delay_seconds is None else {"delaySeconds": delay_seconds}, _RETRY_OPTIONS)
    return _delay(merged["delaySeconds"]) if "delaySeconds" in merged else None


# -- the store --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Buried:
    id: str
    deliveries: int
    dead_letter_queue: str | None


@dataclass(frozen=True)
class _Row:
    seq: int
    id: str
    queue: str
    body: str
    content_type: str
    attempts: int
    created: float
    visible_at: float


class QueueStore:
    """Every local queue in one SQLite file, shared safely by several worker processes.

    `clock` gives unix seconds; tests pass a settable one. The inspection helpers (`pending`,
    `messages`, `dead`) are for tests and the dev server.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        with self._transaction() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
            if "lease" not in columns:  # a file written before leases had owners
                conn.execute("ALTER TABLE messages ADD COLUMN lease TEXT")
        self._conn.execute("CREATE INDEX IF NOT EXISTS messages_lease ON messages (lease)")

    def __repr__(self) -> str:
        return f"<QueueStore {self.path}>"

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT` (`ROLLBACK` on error): one writer at a time across processes."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # inspection

    def pending(self, queue: str) -> int:
        """Messages of `queue` not settled yet: waiting, delayed or being delivered."""
        return self._conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()[0]

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """The messages of `queue` in send order (bodies decoded), for inspection."""
        now = self.clock()
        return [
            {
                "id": r[0],
                "body": _deserialize(r[1], r[2]),
                "content_type": r[2],
                "attempts": r[3],
                "created": r[4],
                "visible_at": r[5],
                "leased": r[6] is not None and r[6] > now,
            }
            for r in self._conn.execute(_SELECT_QUEUE, (queue,)).fetchall()
        ]

    def dead(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Messages that exhausted their retries on a queue without a dead-letter queue (all queues by default)."""
        sql = "SELECT id, queue, body, content_type, attempts, created, died FROM dead"
        args: tuple[Any, ...] = ()
        if queue is not None:
            sql, args = sql + " WHERE queue = ?", (queue,)
        return [
            {
                "id": r[0],
                "queue": r[1],
                "body": _deserialize(r[2], r[3]),
                "content_type": r[3],
                "attempts": r[4],
                "created": r[5],
                "died": r[6],
            }
            for r in self._conn.execute(sql + " ORDER BY died, rowid", args).fetchall()
        ]

    # used by producers and consumers

    def add(self, queue: str, items: list[tuple[str, str, int]]) -> None:
        """Insert (stored body, content type, delay seconds) messages, all or none."""
        now = self.clock()
        with self._transaction() as conn:
            conn.executemany(
                _INSERT_MESSAGE,
                [(secrets.token_hex(16), queue, body, ctype, now, now + delay) for body, ctype, delay in items],
            )

    def _claim(
        self, config: QueueConsumerConfig, token: str, now: float, *, force: bool
    ) -> tuple[list[_Row], list[_Buried]]:
        """Lease the next batch of `config.queue` to `token`, if one is due.

        Returns (the batch, the messages dead-lettered instead: they had already been delivered
        `max_retries + 1` times by a process that stopped before settling them).
        """
        with self._transaction() as conn:
            exhausted = [
                _Row(*r) for r in conn.execute(_SELECT_EXHAUSTED, (config.queue, now, now, config.max_retries))
            ]
            buried = [self._bury(conn, row, row.attempts, config.dead_letter_queue, now) for row in exhausted]
            rows = [_Row(*r) for r in conn.execute(_SELECT_BATCH, (config.queue, now, now, config.max_batch_size))]
            waited = now - min((r.visible_at for r in rows), default=now)
            if not rows or (not force and len(rows) < config.max_batch_size and waited < config.max_batch_timeout):
                return [], buried
            conn.executemany(
                "UPDATE messages SET attempts = attempts + 1, lease = ?, lease_until = ? WHERE seq = ?",
                [(token, now + LEASE_SECONDS, r.seq) for r in rows],
            )
        return rows, buried

    def _renew(self, token: str, now: float) -> None:
        self._conn.execute("UPDATE messages SET lease_until = ? WHERE lease = ?", (now + LEASE_SECONDS, token))

    def _settle(
        self, token: str, outcomes: list[tuple[_Row, str, float]], dead_letter_queue: str | None, now: float
    ) -> tuple[list[str], list[_Buried]]:
        """Apply ("ack" | "retry" | "release" | "dead", delay) to rows leased to `token`, in one transaction.

        Returns (ids whose lease was lost, so nothing was done to them; the dead-lettered messages).
        """
        lost: list[str] = []
        buried: list[_Buried] = []
        with self._transaction() as conn:
            for row, action, delay in outcomes:
                held = conn.execute("SELECT 1 FROM messages WHERE seq = ? AND lease = ?", (row.seq, token)).fetchone()
                if held is None:
                    lost.append(row.id)
                elif action == "ack":
                    conn.execute("DELETE FROM messages WHERE seq = ?", (row.seq,))
                elif action == "retry":
                    conn.execute(
                        "UPDATE messages SET visible_at = ?, lease = NULL, lease_until = NULL WHERE seq = ?",
                        (now + delay, row.seq),
                    )
                elif action == "release":  # the delivery was interrupted: it does not count
                    conn.execute(
                        "UPDATE messages SET attempts = MAX(attempts - 1, 0), visible_at = ?, lease = NULL, "
                        "lease_until = NULL WHERE seq = ?",
                        (now, row.seq),
                    )
                else:
                    buried.append(self._bury(conn, row, row.attempts + 1, dead_letter_queue, now))
        return lost, buried

    @staticmethod
    def _bury(
        conn: sqlite3.Connection, row: _Row, deliveries: int, dead_letter_queue: str | None, now: float
    ) -> _Buried:
        """Move a row to the dead-letter queue or, without one, to the dead table."""
        conn.execute("DELETE FROM messages WHERE seq = ?", (row.seq,))
        if dead_letter_queue:
            conn.execute(
                _INSERT_MESSAGE,
                (row.id, dead_letter_queue, row.body, row.content_type, row.created, now),
            )
        else:
            conn.execute(
                _INSERT_DEAD,
                (row.id, row.queue, row.body, row.content_type, deliveries, row.created, now),
            )
        return _Buried(row.id, deliveries, dead_letter_queue)


# -- producer ---------------------------------------------------------------------------------------


class QueueProducer:
    """A queue producer binding (`env.<BINDING>`), with Cloudflare's `send` and `sendBatch`.

    Options come as a JS-style dict (`send(body, {"delaySeconds": 5})`) or as keyword arguments
    (`send(body, delaySeconds=5)`), which is how Pyodide passes Python keyword arguments.
    """

    def __init__(self, store: QueueStore, queue_name: str, *, delivery_delay: int = 0) -> None:
        self.store = store
        self.queue_name = queue_name
        self.delivery_delay = _delay(delivery_delay, "delivery_delay")

    def __repr__(self) -> str:
        return f"<QueueProducer {self.queue_name}>"

    async def send(self, body: Any, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Send one message. Options: `contentType` ("json" (default), "text", "bytes", "v8"), `delaySeconds`."""
        opts = _options("send()", options, kwargs, _SEND_OPTIONS)
        content_type, text, size = _serialize(body, opts.get("contentType", DEFAULT_CONTENT_TYPE))
        if size > MAX_MESSAGE_BYTES:
            raise QueueError(f"Message is {size} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit")
        delay = _delay(opts["delaySeconds"]) if "delaySeconds" in opts else self.delivery_delay
        self.store.add(self.queue_name, [(text, content_type, delay)])

    async def sendBatch(self, messages: Any, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Send up to 100 messages (256 KB in all) at once, all or none.

        Each message is `{"body": ..., "contentType"?: ..., "delaySeconds"?: ...}`; the batch
        option `delaySeconds` applies to messages that do not give their own.
        """
        opts = _options("sendBatch()", options, kwargs, _BATCH_OPTIONS)
        if not isinstance(messages, list | tuple):
            raise QueueError(f"sendBatch() takes a list of {{'body': ...}} messages, not {type(messages).__name__}")
        if not messages:
            raise QueueError("sendBatch() requires at least one message")
        if len(messages) > MAX_BATCH_MESSAGES:
            raise QueueError(f"sendBatch() takes at most {MAX_BATCH_MESSAGES} messages, got {len(messages)}")
        default_delay = _delay(opts["delaySeconds"]) if "delaySeconds" in opts else self.delivery_delay
        items, total = [], 0
        for i, message in enumerate(messages):
            what = f"sendBatch() message {i}"
            if not isinstance(message, Mapping) or "body" not in message:
                raise QueueError(f"{what}: expected a dict with a 'body', not {type(message).__name__}")
            _check_keys(what, message, _BATCH_MESSAGE_KEYS)
            content_type = message.get("contentType")
            content_type, text, size = _serialize(message["body"], content_type or DEFAULT_CONTENT_TYPE)
            if size > MAX_MESSAGE_BYTES:
                raise QueueError(f"{what} is {size} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit")
            total += size
            delay = message.get("delaySeconds")
            items.append(
                (text, content_type, default_delay if delay is None else _delay(delay, f"{what}: delaySeconds"))
            )
        if total > MAX_BATCH_BYTES:
            raise QueueError(f"sendBatch() messages total {total} bytes, more than the {MAX_BATCH_BYTES}-byte limit")
        self.store.add(self.queue_name, items)


# -- what a consumer receives -----------------------------------------------------------------------


class Message:
    """One delivered message: `id`, `timestamp`, `body`, `attempts` (1 on first delivery), `ack()`, `retry()`."""

    def __init__(self, id: str, body: Any, timestamp: datetime.datetime, attempts: int) -> None:
        self.id = id
        self.body = body
        self.timestamp = timestamp
        self.attempts = attempts
        self._batch: MessageBatch | None = None

    def __repr__(self) -> str:
        return f"<Message {self.id} attempts={self.attempts}>"

    def _owner(self) -> MessageBatch:
        if self._batch is None:
            self._batch = MessageBatch("", [self])
        return self._batch

    def ack(self) -> None:
        """Mark this message delivered, whatever the handler does next (unless retried or retryAll'd first)."""
        batch = self._owner()
        if batch._ack_all or self.id in batch._acks:
            return
        if batch._retry_all or self.id in batch._retries:
            earlier = "retryAll()" if batch._retry_all else "retry()"
            _ignored(f"ack() on message {self.id}", earlier)
            return
        batch._acks.add(self.id)

    def retry(self, options: Mapping[str, Any] | None = None, *, delaySeconds: int | None = None) -> None:
        """Deliver this message again later: after `delaySeconds`, else `retryAll()`'s, else the consumer's delay."""
        delay = _retry_delay("retry()", options, delaySeconds)
        batch = self._owner()
        if batch._ack_all or self.id in batch._acks:
            _ignored(f"retry() on message {self.id}", "ackAll()" if batch._ack_all else "ack()")
            return
        batch._retries.setdefault(self.id, delay)


class MessageBatch:
    """What a consumer's `queue(batch, env, ctx)` handler receives: `queue`, `messages`, `ackAll()`, `retryAll()`."""

    def __init__(self, queue: str, messages: list[Message]) -> None:
        self.queue = queue
        self.messages = messages
        self._ack_all = False
        self._retry_all = False
        self._retry_all_delay: int | None = None
        self._acks: set[str] = set()
        self._retries: dict[str, int | None] = {}
        for message in messages:
            message._batch = self

    def __repr__(self) -> str:
        return f"<MessageBatch {self.queue} messages={len(self.messages)}>"

    def ackAll(self) -> None:
        """Mark every message not already retried as delivered, whatever the handler does next."""
        if self._retry_all:
            _ignored("ackAll()", "retryAll()")
            return
        self._ack_all = True

    def retryAll(self, options: Mapping[str, Any] | None = None, *, delaySeconds: int | None = None) -> None:
        """Retry every message not already acked, after `delaySeconds` (else the consumer's `retry_delay`)."""
        delay = _retry_delay("retryAll()", options, delaySeconds)
        if self._ack_all:
            _ignored("retryAll()", "ackAll()")
            return
        if not self._retry_all:
            self._retry_all, self._retry_all_delay = True, delay

    def _verdict(self, message: Message, failed: bool) -> tuple[str, int | None]:
        """("ack" | "retry", delay or None) for `message`; explicit calls first, then the handler's outcome."""
        if message.id in self._acks:
            return "ack", None
        if message.id in self._retries:
            delay = self._retries[message.id]
            return "retry", self._retry_all_delay if delay is None else delay
        if self._ack_all:
            return "ack", None
        if self._retry_all or failed:
            return "retry", self._retry_all_delay
        return "ack", None


def _ignored(call: str, earlier: str) -> None:
    log.warning("Received a call to %s after %s was already called; it has no effect.", call, earlier)


def _timestamp(seconds: float) -> datetime.datetime:
    """A JavaScript Date as Python receives it: naive local time, whole milliseconds."""
    return datetime.datetime.fromtimestamp(math.trunc(seconds * 1000) / 1000)


# -- consumer ---------------------------------------------------------------------------------------


class QueueConsumer:
    """Deliver batches of `config.queue` to `deliver` (the consumer worker's `queue` handler).

    `run()` polls until cancelled; `deliver_once()` forms and delivers at most one batch now.
    `clock` defaults to the store's.
    """

    def __init__(
        self,
        store: QueueStore,
        config: QueueConsumerConfig,
        deliver: Callable[[MessageBatch], Awaitable[None]],
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.config = config
        self.deliver = deliver
        self.clock = clock or store.clock
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"<QueueConsumer {self.config.queue}>"

    async def run(self) -> None:
        """Deliver batches as they become due, until cancelled."""
        while True:
            try:
                delivered = await self.deliver_once()
            except Exception:
                log.exception("queue %s: delivery failed; trying again", self.config.queue)
                delivered = 0
            if not delivered:
                await self.sleep(POLL_SECONDS)

    async def deliver_once(self, *, force: bool = False) -> int:
        """Form and deliver at most one batch; returns how many messages it held (0 if none was due).

        With `force`, deliver whatever is visible without waiting for `max_batch_timeout`.
        """
        token = secrets.token_hex(16)
        rows, buried = self.store._claim(self.config, token, self.clock(), force=force)
        self._report_buried(buried)
        if not rows:
            return 0
        messages = [
            Message(r.id, _deserialize(r.body, r.content_type), _timestamp(r.created), r.attempts + 1) for r in rows
        ]
        batch = MessageBatch(self.config.queue, list(messages))
        keeper = asyncio.create_task(self._keep_lease(token))
        failed = False
        try:
            await self.deliver(batch)
        except asyncio.CancelledError:
            # Shutting down mid-batch: settle what the handler decided, hand the rest back at once.
            self._settle(token, rows, messages, batch, failed=False, interrupted=True)
            raise
        except Exception as exc:
            failed = True
            log.error(
                "queue %s: the queue handler raised %s; retrying the %d message(s) it did not ack",
                self.config.queue,
                type(exc).__name__,
                sum(1 for m in messages if batch._verdict(m, failed=True)[0] == "retry"),
                exc_info=exc,
            )
        finally:
            keeper.cancel()
        self._settle(token, rows, messages, batch, failed=failed)
        return len(messages)

    async def _keep_lease(self, token: str) -> None:
        """Renew the batch's lease while the handler runs (real time: the handler may be slow)."""
        while True:
            await asyncio.sleep(LEASE_SECONDS / 4)
            try:
                self.store._renew(token, self.clock())
            except sqlite3.Error as exc:  # the next renewal may succeed; the lease is not lost yet
                log.warning("queue %s: could not renew a lease: %s", self.config.queue, exc)

    def _settle(
        self,
        token: str,
        rows: list[_Row],
        messages: list[Message],
        batch: MessageBatch,
        *,
        failed: bool,
        interrupted: bool = False,
    ) -> None:
        """Record the fate of each delivered message (`messages`: our list; the handler may change the batch's)."""
        outcomes: list[tuple[_Row, str, float]] = []
        for row, message in zip(rows, messages, strict=True):
            decided = message.id in batch._acks or message.id in batch._retries or batch._ack_all or batch._retry_all
            if interrupted and not decided:
                outcomes.append((row, "release", 0))
                continue
            action, delay = batch._verdict(message, failed)
            if action == "retry" and message.attempts > self.config.max_retries:
                action = "dead"
            outcomes.append((row, action, self.config.retry_delay if delay is None else delay))
        lost, buried = self.store._settle(token, outcomes, self.config.dead_letter_queue, self.clock())
        for message_id in lost:
            log.warning(
                "queue %s: message %s outlived its lease while being delivered and may have been delivered again",
                self.config.queue,
                message_id,
            )
        self._report_buried(buried)

    def _report_buried(self, buried: list[_Buried]) -> None:
        for dead in buried:
            if dead.dead_letter_queue:
                log.warning(
                    "queue %s: message %s moved to dead-letter queue %s after %d deliveries",
                    self.config.queue,
                    dead.id,
                    dead.dead_letter_queue,
                    dead.deliveries,
                )
            else:
                log.error(
                    "queue %s: message %s failed %d deliveries and the consumer names no dead_letter_queue; "
                    "kept in the local dead table (Cloudflare would delete it)",
                    self.config.queue,
                    dead.id,
                    dead.deliveries,
                )


# -- the binding kind: `queues` in wrangler.jsonc ---------------------------------------------------

#: `BindingContext.resources` key of the worker's `QueueStore` (its host runs the consumers on it).
STORE_RESOURCE = "queue_store"


class QueuesKind(BindingKind):
    """`queues`: `env.<binding>` is a `QueueProducer` per producer. One `QueueStore`, the SQLite file
    `<state>/queues/queues.sqlite`, holds every local queue; the worker's host runs a `QueueConsumer`
    per consumer on it (`config.queue_consumers`)."""

    keys = ("queues",)
    state_folder = "queues"

    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        queues = reader.obj(config, "queues")
        producers = []
        for i, item in enumerate(reader.objs(queues, "producers", prefix="queues")):
            k = f"queues.producers[{i}]"
            producers.append(
                QueueProducerConfig(
                    binding=reader.string(item, "binding", required=True, prefix=k),
                    queue=reader.string(item, "queue", required=True, prefix=k),
                    delivery_delay=reader.number(item, "delivery_delay", 0, prefix=k, maximum=MAX_DELAY_SECONDS),
                )
            )
        consumers = [
            _consumer(reader, item, f"queues.consumers[{i}]")
            for i, item in enumerate(reader.objs(queues, "consumers", prefix="queues"))
        ]
        return {"queue_producers": producers, "queue_consumers": consumers}

    def names(self, sections: Sections) -> list[str]:
        return [q.binding for q in sections["queue_producers"]]

    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        if not (sections["queue_producers"] or sections["queue_consumers"]):
            return {}
        store = context.resources[STORE_RESOURCE] = QueueStore(self.store_file(context.state), clock=context.clock)
        return {
            q.binding: QueueProducer(store, q.queue, delivery_delay=q.delivery_delay)
            for q in sections["queue_producers"]
        }

    def store_file(self, state: StateDir) -> Path:
        """The one SQLite file of every local queue."""
        return self.state_file(state, "queues")


def _consumer(reader: ConfigReader, item: dict[str, Any], k: str) -> QueueConsumerConfig:
    """One `queues.consumers` entry, within Cloudflare's limits."""
    return QueueConsumerConfig(
        queue=reader.string(item, "queue", required=True, prefix=k),
        max_batch_size=int(
            reader.number(
                item, "max_batch_size", QUEUE_DEFAULT_BATCH_SIZE, prefix=k, minimum=1, maximum=QUEUE_MAX_BATCH_SIZE
            )
        ),
        max_batch_timeout=float(
            reader.number(
                item, "max_batch_timeout", QUEUE_DEFAULT_BATCH_TIMEOUT, prefix=k, maximum=QUEUE_MAX_BATCH_TIMEOUT
            )
        ),
        max_retries=int(
            reader.number(item, "max_retries", QUEUE_DEFAULT_MAX_RETRIES, prefix=k, maximum=QUEUE_MAX_RETRIES)
        ),
        retry_delay=int(reader.number(item, "retry_delay", 0, prefix=k, maximum=MAX_DELAY_SECONDS)),
        dead_letter_queue=reader.string(item, "dead_letter_queue", prefix=k),
    )

"""Cloudflare Queues on a local SQLite file: producers, consumers, batching, retries and dead letters.

    await env.JOBS.send({"type": "x"}, delaySeconds=10)          # or a JS-style options dict
    await env.JOBS.sendBatch([{"body": 1}, {"body": 2, "delaySeconds": 5}])

    async def queue(self, batch):                                 # the consumer worker's handler
        for message in batch.messages:
            ...; message.ack()    # or message.retry(delaySeconds=30)

Delivery is at least once. A batch is delivered when `max_batch_size` messages are waiting or the
oldest has waited `max_batch_timeout` seconds. An explicit `ack()`/`retry()` on a message decides
its fate; otherwise `ackAll()`/`retryAll()`; otherwise the handler's outcome (returned: acked;
raised: retried). A message retried after `max_retries + 1` deliveries moves to the
`dead_letter_queue`; without one it is kept in the store's dead table and logged (Cloudflare
would delete it; nothing is dropped silently here).

Stricter than Cloudflare on purpose: unknown option keys raise (a snake_case `delay_seconds`
would be ignored silently by the JS API).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from workers import python_from_rpc, python_to_rpc

from dotdo_dev.config import QueueConsumerConfig
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.bindings.kv import _options
from dotdo_dev.runtime.sqlite import connect

log = logging.getLogger("dotdo.queues")

CONTENT_TYPES = {"json", "text", "bytes", "v8"}
MAX_MESSAGE_BYTES = 128 * 1024
MAX_BATCH_BYTES = 256 * 1024
MAX_BATCH_MESSAGES = 100
MAX_DELAY = 43200
LEASE_SECONDS = 120.0
POLL_SECONDS = 0.05
_INSERT_MESSAGE = "INSERT INTO messages (id, queue, body, content_type, created, visible_at) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_DEAD = "INSERT INTO dead (id, queue, body, content_type, attempts, created, died) VALUES (?, ?, ?, ?, ?, ?, ?)"


class QueueError(Exception):
    """A send that Cloudflare Queues would refuse."""


def _encode(body: Any, content_type: str) -> str:
    if content_type not in CONTENT_TYPES:
        raise QueueError(f"Unknown content type {content_type!r}; use one of {sorted(CONTENT_TYPES)}")
    python_to_rpc(body)  # what cannot cross to Cloudflare's runtime cannot be queued either
    if content_type == "json":
        try:
            return json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise QueueError(f"Message body is not JSON-serializable: {exc}") from None
    if content_type == "text":
        if not isinstance(body, str):
            raise QueueError(f"contentType 'text' needs a str body, not {type(body).__name__}")
        return body
    if content_type == "bytes":
        if not isinstance(body, bytes):
            raise QueueError(f"contentType 'bytes' needs a bytes body, not {type(body).__name__}")
        return base64.b64encode(body).decode()
    return wire.dumps(body).decode()


def _decode(payload: str, content_type: str) -> Any:
    if content_type == "json":
        return python_from_rpc(json.loads(payload))
    if content_type == "text":
        return payload
    if content_type == "bytes":
        return base64.b64decode(payload)
    return wire.loads(payload.encode())


def _delay(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DELAY:
        raise QueueError(f"delaySeconds must be an integer from 0 to {MAX_DELAY}, not {value!r}")
    return value


class QueueStore:
    """Every local queue in one SQLite file, shared safely by several worker processes."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        self._conn.executescript(
            """
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
        )

    def _new_id(self) -> str:
        import secrets

        return secrets.token_hex(16)

    def add(self, queue: str, items: list[tuple[str, str, int]]) -> None:
        """Insert (payload, content type, delay) messages atomically."""
        now = self.clock()
        with self._transaction():
            for payload, content_type, delay in items:
                self._conn.execute(
                    _INSERT_MESSAGE,
                    (self._new_id(), queue, payload, content_type, now, now + delay),
                )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def pending(self, queue: str) -> int:
        """Messages of `queue` not yet acknowledged (waiting, delayed or being delivered)."""
        return self._conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()[0]

    def messages(self, queue: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT id, body, content_type, attempts, created, visible_at FROM messages WHERE queue = ? ORDER BY seq",
            (queue,),
        ).fetchall()
        return [
            {"id": r[0], "body": _decode(r[1], r[2]), "attempts": r[3], "created": r[4], "visible_at": r[5]}
            for r in rows
        ]

    def dead(self, queue: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, queue, body, content_type, attempts, created, died FROM dead"
        rows = self._conn.execute(
            sql + (" WHERE queue = ?" if queue else "") + " ORDER BY died", (queue,) if queue else ()
        )
        return [
            {"id": r[0], "queue": r[1], "body": _decode(r[2], r[3]), "attempts": r[4], "created": r[5], "died": r[6]}
            for r in rows.fetchall()
        ]


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK` on error): one writer across processes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class QueueProducer:
    """A queue producer binding (`env.<BINDING>`)."""

    def __init__(self, store: QueueStore, queue_name: str, *, delivery_delay: int = 0) -> None:
        self.store = store
        self.queue_name = queue_name
        self.delivery_delay = delivery_delay

    def __repr__(self) -> str:
        return f"<QueueProducer {self.queue_name}>"

    async def send(self, body: Any, *args: Any, **kwargs: Any) -> None:
        options = _options(args, kwargs, {"contentType", "delaySeconds"}, None)
        payload = _encode(body, options.get("contentType") or "json")
        if len(payload.encode()) > MAX_MESSAGE_BYTES:
            raise QueueError(f"Message is larger than {MAX_MESSAGE_BYTES} bytes")
        delay = _delay(options.get("delaySeconds", self.delivery_delay))
        self.store.add(self.queue_name, [(payload, options.get("contentType") or "json", delay)])

    async def sendBatch(self, messages: Any, *args: Any, **kwargs: Any) -> None:
        options = _options(args, kwargs, {"delaySeconds"}, None)
        if not isinstance(messages, list) or not messages:
            raise QueueError("sendBatch() takes a non-empty list of {'body': ...} messages")
        if len(messages) > MAX_BATCH_MESSAGES:
            raise QueueError(f"sendBatch() takes at most {MAX_BATCH_MESSAGES} messages, got {len(messages)}")
        default_delay = _delay(options.get("delaySeconds", self.delivery_delay))
        items, total = [], 0
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "body" not in message:
                raise QueueError(f"message {i}: expected a dict with a 'body'")
            unknown = set(message) - {"body", "contentType", "delaySeconds"}
            if unknown:
                raise QueueError(f"message {i}: unknown key(s) {sorted(unknown)}")
            content_type = message.get("contentType") or "json"
            payload = _encode(message["body"], content_type)
            size = len(payload.encode())
            if size > MAX_MESSAGE_BYTES:
                raise QueueError(f"message {i} is larger than {MAX_MESSAGE_BYTES} bytes")
            total += size
            items.append((payload, content_type, _delay(message.get("delaySeconds", default_delay))))
        if total > MAX_BATCH_BYTES:
            raise QueueError(f"batch is larger than 256 KB ({MAX_BATCH_BYTES} bytes)")
        self.store.add(self.queue_name, items)


def _decide(target: Message | MessageBatch, action: str, options: Any, delay: int | None) -> None:
    """Record the first ack/retry made on a message or batch (later calls do not change it)."""
    if isinstance(options, dict):
        delay = options.get("delaySeconds", delay)
    if target._decision is None:
        target._decision = (action, _delay(delay) if delay is not None else None)


class Message:
    """One delivered message: `body`, `id`, `timestamp`, `attempts`, and `ack()` / `retry()`."""

    def __init__(self, id: str, body: Any, timestamp: datetime.datetime, attempts: int) -> None:
        self.id = id
        self.body = body
        self.timestamp = timestamp
        self.attempts = attempts
        self._decision: tuple[str, int | None] | None = None

    def __repr__(self) -> str:
        return f"<Message {self.id} attempts={self.attempts}>"

    def ack(self) -> None:
        _decide(self, "ack", None, None)

    def retry(self, options: Any = None, *, delaySeconds: int | None = None) -> None:
        _decide(self, "retry", options, delaySeconds)


class MessageBatch:
    """What a consumer's `queue(batch)` receives."""

    def __init__(self, queue: str, messages: list[Message]) -> None:
        self.queue = queue
        self.messages = messages
        self._decision: tuple[str, int | None] | None = None

    def ackAll(self) -> None:
        _decide(self, "ack", None, None)

    def retryAll(self, options: Any = None, *, delaySeconds: int | None = None) -> None:
        _decide(self, "retry", options, delaySeconds)


class QueueConsumer:
    """Deliver batches of one queue to `deliver` (the consumer worker's `queue` handler)."""

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

    async def run(self) -> None:
        """Poll and deliver until cancelled."""
        while True:
            try:
                delivered = await self.deliver_once()
            except Exception:
                log.exception("queue %s: delivery loop error", self.config.queue)
                delivered = 0
            if not delivered:
                await self.sleep(POLL_SECONDS)

    def _claim(self, force: bool) -> list[tuple[Any, ...]]:
        now = self.clock()
        conn = self.store._conn
        with self.store._transaction():
            rows = conn.execute(
                "SELECT id, body, content_type, attempts, created, visible_at FROM messages "
                "WHERE queue = ? AND visible_at <= ? AND (lease_until IS NULL OR lease_until <= ?) "
                "ORDER BY seq LIMIT ?",
                (self.config.queue, now, now, self.config.max_batch_size),
            ).fetchall()
            if not rows:
                return []
            oldest = min(r[5] for r in rows)
            full = len(rows) >= self.config.max_batch_size
            if not force and not full and now - oldest < self.config.max_batch_timeout:
                return []
            for row in rows:
                conn.execute(
                    "UPDATE messages SET attempts = attempts + 1, lease_until = ? WHERE id = ?",
                    (now + LEASE_SECONDS, row[0]),
                )
        return rows

    async def deliver_once(self, *, force: bool = False) -> int:
        """Deliver at most one batch now; returns its size (0 when nothing was due)."""
        rows = self._claim(force)
        if not rows:
            return 0
        messages = [Message(r[0], _decode(r[1], r[2]), datetime.datetime.fromtimestamp(r[4]), r[3] + 1) for r in rows]
        batch = MessageBatch(self.config.queue, messages)
        failed = False
        try:
            await self.deliver(batch)
        except Exception as exc:
            failed = True
            log.error(
                "queue %s: handler raised %s; retrying %d message(s)",
                self.config.queue,
                type(exc).__name__,
                sum(1 for m in messages if m._decision is None),
            )
        for message, row in zip(messages, rows, strict=True):
            decision = message._decision or batch._decision or (("retry", None) if failed else ("ack", None))
            self._settle(message, row, decision)
        return len(messages)

    def _settle(self, message: Message, row: tuple[Any, ...], decision: tuple[str, int | None]) -> None:
        action, delay = decision
        conn = self.store._conn
        now = self.clock()
        with self.store._transaction():
            if action == "ack":
                conn.execute("DELETE FROM messages WHERE id = ?", (message.id,))
                return
            if message.attempts <= self.config.max_retries:
                wait = self.config.retry_delay if delay is None else delay
                conn.execute(
                    "UPDATE messages SET visible_at = ?, lease_until = NULL WHERE id = ?", (now + wait, message.id)
                )
                return
            conn.execute("DELETE FROM messages WHERE id = ?", (message.id,))
            dlq = self.config.dead_letter_queue
            if dlq:
                conn.execute(
                    _INSERT_MESSAGE,
                    (self.store._new_id(), dlq, row[1], row[2], now, now),
                )
                log.warning(
                    "queue %s: message %s moved to %s after %d attempts",
                    self.config.queue,
                    message.id,
                    dlq,
                    message.attempts,
                )
            else:
                conn.execute(
                    _INSERT_DEAD,
                    (message.id, self.config.queue, row[1], row[2], message.attempts, row[4], now),
                )
                log.error(
                    "queue %s: message %s exhausted %d retries and the consumer names no dead_letter_queue; "
                    "kept in the local dead table (Cloudflare would delete it)",
                    self.config.queue,
                    message.id,
                    self.config.max_retries,
                )

"""Queue message types declared once: producers `build` messages, consumers `dispatch` batches.

    jobs = MessageTypes()

    @jobs.handler("orders.order.created", OrderCreated)
    async def on_created(data: OrderCreated, message, context): ...

    await env.EVENTS.send(jobs.build("orders.order.created", {...}, request_id=ctx.request_id))  # producer
    await jobs.dispatch(batch, env)                                                               # consumer's queue()

Every message body is the same envelope (`QueueMessage`):
`{"id": "msg_...", "type": "orders.order.created", "data": {...}, "timestamp": "...Z", "request_id": ...}`.
A handler gets the validated `data`, the queue's message (`message.body["id"]` is the id to
de-duplicate on: delivery is at least once) and the `context` given to `dispatch`.

Each message is settled on its own, so one bad message never holds back the rest of its batch:
- handled without an exception: acknowledged;
- its handler raised: retried (the queue's retry delay and `max_retries` apply);
- poison (not an envelope, an unknown type, or `data` its model rejects): logged with its id and
  the reason (never its body) and retried as well, so that after `max_retries` it lands in the
  dead-letter queue every consumer in this repo names. We do not acknowledge poison: acking
  would drop it for good (the anchor's flaw), while in the dead-letter queue it can be inspected
  and replayed once the consumer is fixed; an unknown type is often just a producer deployed
  before its consumer. The price is a few redeliveries of a message that cannot succeed.
Nothing is acknowledged that was not handled.

A consumer with its own bookkeeping (queue's jobs, webhooks' events) settles its batches with
`settle_each(batch, env, run, error_log=...)`, `run` answering each message's outcome and retry delay
(`retry_delay`: exponential backoff); `message_body` and `message_attempts` read a message as plain Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shared.clock import now_iso
from shared.ids import new_id
from shared.logs import log
from shared.settings import setting

#: `retry_delay`: the first retry's wait unless the env's `RETRY_BASE_SECONDS` says otherwise, and the longest.
DEFAULT_RETRY_BASE_SECONDS = 30
MAX_RETRY_DELAY_SECONDS = 3600


def retry_delay(env: Any, attempts: int) -> int:
    """Seconds a message waits before try `attempts + 1` (`message.retry(delaySeconds=...)`): exponential
    backoff from `RETRY_BASE_SECONDS` (a var; 30 by default), doubled per try, at most an hour."""
    raw = setting(env, "RETRY_BASE_SECONDS")
    base = int(raw) if raw is not None and raw.isdigit() else DEFAULT_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY_SECONDS)


def message_body(message: Any) -> Any:
    """A queue message's body as plain Python: a JavaScript object (Pyodide's JsProxy) converted, nested too."""
    return _plain(message.body)


def message_attempts(message: Any) -> int:
    """The message's delivery attempt, 1 on the first (what Cloudflare's `message.attempts` says when sane)."""
    attempts = getattr(message, "attempts", 1)
    return attempts if isinstance(attempts, int) and attempts > 0 else 1


#: What `settle_each`'s `run` answers for a message: (outcome for the counts, None to acknowledge it or
#: the seconds to wait before its retry).
Settlement = tuple[str, int | None]


async def settle_each(
    batch: Any, env: Any, run: Callable[[Any, Any], Awaitable[Settlement]], *, error_log: str
) -> dict[str, int]:
    """Settle every message of a `MessageBatch` on its own with `run(env, message)`: acknowledged when it
    answers None, retried after the delay it answers otherwise. A `run` that raises (its storage failed)
    leaves the message unacknowledged: logged as `error_log` and retried after `retry_delay`. Returns the
    count of each outcome."""
    counts: dict[str, int] = {}
    for message in batch.messages:
        try:
            outcome, delay = await run(env, message)
        except Exception as exc:  # nothing is acknowledged that was not recorded
            line = {"type": error_log, "message_id": message.id, "error": type(exc).__name__, "detail": str(exc)[:200]}
            log(line)
            outcome, delay = "error", retry_delay(env, message_attempts(message))
        if delay is None:
            message.ack()
        else:
            message.retry(delaySeconds=delay)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _plain(body: Any) -> Any:
    if hasattr(body, "to_py"):
        body = body.to_py()
    if isinstance(body, dict):
        return {k: _plain(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_plain(v) for v in body]
    return body


TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


class QueueMessage(BaseModel):
    """The body of every message on a dotdo queue."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=128)
    data: Any = None
    timestamp: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=128)


@dataclass(frozen=True)
class MessageType:
    """A message type: its dotted name, the model of its `data`, and its handler."""

    name: str
    model: type[BaseModel]
    handler: Callable[[Any, Any, Any], Awaitable[None]]


class MessageTypes:
    """The message types of one queue (or one service): what producers may send and consumers run."""

    def __init__(self, *, log: Callable[[str], None] = print) -> None:
        self._types: dict[str, MessageType] = {}
        self.log = log

    def handler(self, name: str, model: type[BaseModel]) -> Callable[[Any], Any]:
        """Decorator declaring type `name` (dotted lower-case, e.g. `orders.order.created`) and its handler."""
        if not TYPE_NAME.fullmatch(name):
            raise ValueError(f"invalid message type {name!r}: dotted lower-case, e.g. orders.order.created")
        if name in self._types:
            raise ValueError(f"message type {name!r} is declared twice")

        def decorator(fn: Callable[[Any, Any, Any], Awaitable[None]]) -> Callable[[Any, Any, Any], Awaitable[None]]:
            self._types[name] = MessageType(name, model, fn)
            return fn

        return decorator

    def names(self) -> list[str]:
        return list(self._types)

    def build(self, name: str, data: Any, *, request_id: str | None = None) -> dict[str, Any]:
        """A message body for `queue.send(...)`: validated now, so a producer cannot send poison.

        Raises `ValueError` for an unknown type and pydantic's `ValidationError` for bad `data`.
        """
        kind = self._types.get(name)
        if kind is None:
            raise ValueError(f"unknown message type {name!r}")
        model = data if isinstance(data, kind.model) else kind.model.model_validate(data)
        message = QueueMessage(
            id=new_id("msg"), type=name, data=model.model_dump(mode="json"), timestamp=now_iso(), request_id=request_id
        )
        return message.model_dump(mode="json")

    async def dispatch(self, batch: Any, context: Any) -> dict[str, int]:
        """Settle every message of a Cloudflare `MessageBatch`: ack when handled, retry on error or poison.

        Returns counts: `{"acked", "retried", "poison"}` (poison messages are retried too).
        """
        counts = {"acked": 0, "retried": 0, "poison": 0}
        for message in batch.messages:
            try:
                outcome = await self._handle(message, context)
            except Exception as exc:  # the handler failed: try again later
                self._log("queue_retry", message, error=type(exc).__name__)
                message.retry()
                counts["retried"] += 1
                continue
            if outcome is None:
                message.ack()
                counts["acked"] += 1
            else:
                self._log("queue_poison", message, reason=outcome)
                message.retry()
                counts["poison"] += 1
        return counts

    async def _handle(self, message: Any, context: Any) -> str | None:
        """Run the message's handler; the reason it is poison instead, if it is."""
        body = message.body
        if hasattr(body, "to_py"):  # a JS object that was not converted
            body = body.to_py()
        try:
            envelope = QueueMessage.model_validate(body)
        except PydanticValidationError as exc:
            return "not a message envelope: " + ", ".join(_fields(exc))
        kind = self._types.get(envelope.type)
        if kind is None:
            return f"unknown message type {envelope.type[:128]!r}"
        try:
            data = kind.model.model_validate(envelope.data)
        except PydanticValidationError as exc:
            return f"invalid data for {kind.name}: " + ", ".join(_fields(exc))
        await kind.handler(data, message, context)
        return None

    def _log(self, kind: str, message: Any, **fields: Any) -> None:
        body = getattr(message, "body", None)
        line = {
            "type": kind,
            "message_id": getattr(message, "id", None),
            "attempts": getattr(message, "attempts", None),
            "body_id": body.get("id")[:128] if isinstance(body, dict) and isinstance(body.get("id"), str) else None,
            **fields,
        }
        self.log(json.dumps(line, default=str))


def _fields(exc: PydanticValidationError) -> list[str]:
    """The names of the fields in error (never their values)."""
    names = [".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors(include_input=False)]
    return sorted(set(names))[:10]

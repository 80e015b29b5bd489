"""Queue message types declared once: producers `build` messages, consumers `dispatch` batches.

    jobs = MessageTypes()

    @jobs.handler("orders.order.created", OrderCreated)
    async def on_created(data: OrderCreated, message, context): ...

    await env.EVENTS.send(jobs.build("orders.order.created", {...}))     # producer
    await jobs.dispatch(batch, context)                                   # consumer's queue()

Each message is settled on its own, so one bad message never holds back the rest of its batch. A
message whose handler raises is retried; a message with an unknown type or an invalid body
(`poison`) is retried too and logged with its id (never its body): after `max_retries` both go to
the dead-letter queue every consumer in this repo must name, where they can be inspected and
replayed. Nothing is acknowledged that was not handled.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.ids import new_id

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


@dataclass(frozen=True)
class MessageType:
    name: str
    model: type[BaseModel]
    handler: Callable[[Any, Any, Any], Awaitable[None]]


class MessageTypes:
    def __init__(self, *, log: Callable[[str], None] = print) -> None:
        self._types: dict[str, MessageType] = {}
        self.log = log

    def handler(self, name: str, model: type[BaseModel]) -> Callable[[Any], Any]:
        if not TYPE_NAME.match(name):
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
        """A message body for `queue.send(...)`: validated now, so a producer cannot send poison."""
        kind = self._types.get(name)
        if kind is None:
            raise ValueError(f"unknown message type {name!r}")
        model = data if isinstance(data, kind.model) else kind.model.model_validate(data)
        return {
            "id": new_id("msg"),
            "type": name,
            "data": model.model_dump(mode="json"),
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "request_id": request_id,
        }

    async def dispatch(self, batch: Any, context: Any) -> dict[str, int]:
        """Handle every message of a batch: ack on success, retry on error or poison."""
        counts = {"acked": 0, "retried": 0, "poison": 0}
        for message in batch.messages:
            body = message.body
            kind = self._types.get(body.get("type")) if isinstance(body, dict) else None
            if kind is None:
                self._poison(message, "unknown message type")
                counts["poison"] += 1
                continue
            try:
                data = kind.model.model_validate(body.get("data"))
            except PydanticValidationError as exc:
                self._poison(message, f"invalid body: {exc.error_count()} error(s)")
                counts["poison"] += 1
                continue
            try:
                await kind.handler(data, message, context)
            except Exception as exc:
                self.log(json.dumps({"type": "queue_retry", "message_id": message.id, "error": type(exc).__name__}))
                message.retry()
                counts["retried"] += 1
            else:
                message.ack()
                counts["acked"] += 1
        return counts

    def _poison(self, message: Any, reason: str) -> None:
        self.log(json.dumps({"type": "queue_poison", "message_id": message.id, "reason": reason}))
        message.retry()

"""Sending: one email, from a template or the caller's own subject and body, recorded before it leaves.

    await send(env, principal, SendInput(...), request_id=...)     # the send's record, with `duplicate`

In order: the body is rendered (a template's data checked: 400 naming what is missing); a repeat of an
idempotency key answers the first send (`duplicate`), the same key with another request is 409
IDEMPOTENCY_KEY_REUSED, and a first send that failed is tried again under the same record; a suppressed
recipient refuses the whole send (422 RECIPIENT_SUPPRESSED, nothing sent); the caller's sends are counted
(EMAIL_SEND_LIMITER, per principal: 429 RATE_LIMITED past it); the send is recorded `sending`, handed to the
provider with the record's id as the provider's idempotency key, and marked `sent` with the provider's id, or
`failed` with the provider's error (raised: a clear 4xx/5xx, `providers.ProviderError`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import addresses
import store
from email_templates import render
from providers import Outgoing, ProviderError, provider_for
from shared.clock import now_iso
from shared.errors import AppError, Conflict, RateLimited, ServiceUnavailable

RATE_WINDOW_SECONDS = 60


def sender_of(env: Any) -> str:
    sender = str(getattr(env, "EMAIL_FROM", None) or "")
    if not sender or addresses.sender_problem(sender):
        raise ServiceUnavailable("EMAIL_FROM is not a usable sender address", code="EMAIL_NOT_CONFIGURED")
    return sender


def _hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _recipients(to: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for address in to:
        seen.setdefault(addresses.normalize(address), None)
    return list(seen)


async def _within_limit(env: Any, principal_id: str) -> None:
    limiter = getattr(env, "EMAIL_SEND_LIMITER", None)
    if limiter is None:
        return
    outcome = await limiter.limit({"key": principal_id})
    if not bool(outcome.success):
        raise RateLimited(
            f"Too many emails: at most a limit's worth per {RATE_WINDOW_SECONDS} s for each caller",
            retry_after=RATE_WINDOW_SECONDS,
        )


async def refuse_suppressed(env: Any, recipients: list[str]) -> None:
    found = await store.suppressed(env, recipients)
    if found:
        raise AppError(
            f"Not sent: {', '.join(s['address'] for s in found)} "
            f"{'is' if len(found) == 1 else 'are'} on the suppression list",
            code="RECIPIENT_SUPPRESSED",
            status=422,
            details={"suppressed": [{"address": s["address"], "reason": s["reason"]} for s in found]},
        )


async def send(env: Any, principal: dict[str, Any], args: Any, *, request_id: str | None = None) -> dict[str, Any]:
    """Send `args` (operations.SendInput) for `principal`; the send's record, with `duplicate`."""
    actor = principal["id"]
    if args.template:
        rendered = render(args.template, args.data)
        subject, html, text = rendered.subject, rendered.html, rendered.text
    else:
        subject, html, text = args.subject, args.html, args.text
    recipients = _recipients(args.to)
    request = {
        "to": recipients,
        "template": args.template,
        "data": args.data,
        "subject": args.subject,
        "html": args.html,
        "text": args.text,
        "reply_to": args.reply_to,
    }
    request_hash = _hash(request)
    record = None
    if args.idempotency_key:
        record = await store.find_idempotent(env, actor, args.idempotency_key)
        if record is not None:
            if record["request_hash"] != request_hash:
                raise Conflict("This idempotency key was used for another email", code="IDEMPOTENCY_KEY_REUSED")
            if record["status"] != "failed":
                return store.public(record) | {"duplicate": True}  # type: ignore[operator]
    provider = provider_for(env)
    sender = sender_of(env)
    await refuse_suppressed(env, recipients)
    await _within_limit(env, actor)
    if record is None:
        values = {
            "provider": provider.name,
            "status": "sending",
            "template": args.template,
            "recipients": recipients,
            "subject": subject,
            "sender": sender,
            "created_by": actor,
            "idempotency_key": args.idempotency_key,
            "request_hash": request_hash,
            "request_id": request_id,
            "attempts": 1,
        }
        try:
            record = await store.insert_email(env, values)
        except Conflict:  # the same key at the same moment: the other request's send answers
            again = await store.find_idempotent(env, actor, args.idempotency_key or "")
            if again is None:
                raise
            return store.public(again) | {"duplicate": True}  # type: ignore[operator]
    else:  # a failed send with this key: tried again under the same record (and provider idempotency key)
        claimed = await store.update_email(
            env, record["id"], {"status": "sending", "attempts": record["attempts"] + 1}, {"status": "failed"}
        )
        if claimed is None:
            current = await store.get_email(env, record["id"])
            return store.public(current) | {"duplicate": True}  # type: ignore[operator]
        record = claimed
    message = Outgoing(sender, recipients, subject, html, text, args.reply_to)
    try:
        accepted = await provider.send(message, idempotency_key=f"dotdo-email/{record['id']}")
    except ProviderError as exc:
        await store.update_email(
            env, record["id"], {"status": "failed", "error_code": exc.code, "error": exc.message[:2000]}
        )
        raise
    except Exception as exc:
        await store.update_email(
            env, record["id"], {"status": "failed", "error_code": "SEND_FAILED", "error": str(exc)[:2000]}
        )
        raise
    values = {"status": "sent", "provider_id": accepted.provider_id, "sent_at": now_iso()}
    sent = await store.update_email(env, record["id"], values | {"error_code": None, "error": None})
    return store.public(sent) | {"duplicate": False}  # type: ignore[operator]

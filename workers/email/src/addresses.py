"""Email addresses: a strict check of our own (no `email-validator` in the bundle).

A recipient is a bare address `local@domain`: the local part dot-atoms of RFC 5322's atext (no quoted
strings, no comments, no display name), at most 64 characters; the domain DNS labels of letters, digits and
hyphens with an alphabetic top-level label, at most 253 characters; the whole at most 254. What this refuses
and the RFC allows (quoted local parts, IP literals) no transactional email here needs. Addresses are
compared lower-case (`normalize`): the suppression list holds them so.
"""

from __future__ import annotations

import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^[A-Za-z]{2,63}$")
#: A sender as Resend takes it: `address` or `Display Name <address>`.
_NAMED = re.compile(r"^([^<>\"\x00-\x1f\x7f]{1,100}?)\s*<([^<>]+)>$")


def problem(address: object) -> str | None:
    """Why `address` is not an acceptable recipient, or None."""
    if not isinstance(address, str):
        return "is not a string"
    if not address or len(address) > 254:
        return "must be 1-254 characters"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "needs a local part and a domain: name@example.com"
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        return "has an invalid local part (before the @)"
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return "has an invalid domain"
    if not _TLD.fullmatch(labels[-1]):
        return "has an invalid top-level domain"
    return None


def check(address: str) -> str:
    """`address` if it is acceptable, else ValueError saying why (what pydantic validators raise)."""
    why = problem(address)
    if why:
        raise ValueError(f"{str(address)[:80]!r} {why}")
    return address


def normalize(address: str) -> str:
    """The form addresses are compared and stored in: lower-case, no surrounding space."""
    return address.strip().lower()


def sender_problem(sender: str) -> str | None:
    """Why a configured sender (`EMAIL_FROM`) is unusable, or None."""
    named = _NAMED.fullmatch(sender.strip())
    return problem(named.group(2) if named else sender.strip())

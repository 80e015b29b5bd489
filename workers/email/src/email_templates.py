"""The email templates: each one's variables (a pydantic model), subject, HTML part and text part, in jinja2.

    rendered = render("password-reset", {"name": "Ada", "reset_url": "https://app.example.com/r/abc"})
    rendered.subject, rendered.html, rendered.text

Every template is compiled here, at import time (the module's top level): on Cloudflare the deploy-time
memory snapshot keeps the compiled code, so no request compiles anything. The HTML parts are rendered with
autoescape on: a variable's `<`, `>`, `&`, `"` and `'` arrive as entities, so data cannot add markup. URL
variables must be http(s) URLs (an escaped `javascript:` link would still run), and one-line variables (those
a subject uses) hold no line breaks. Undefined names fail loudly (`StrictUndefined`), never render empty.
Missing or invalid variables are a 400 `TEMPLATE_DATA_INVALID` naming each (`TemplateDataError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from shared.errors import ValidationError
from shared.validation import field_errors

_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc or re.search(r"[\s\x00-\x1f\x7f]", value):
        raise ValueError("must be an http(s) URL")
    return value


#: One line of text (names, titles: what a subject may carry).
Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_ONE_LINE)]
#: A paragraph (line breaks allowed).
Text = Annotated[str, StringConstraints(min_length=1, max_length=5000, pattern=_TEXT)]
#: A link the email carries.
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_http_url)]


class _Vars(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Welcome(_Vars):
    name: Line
    login_url: Url
    company_name: Line = "dotdo"


class PasswordReset(_Vars):
    name: Line
    reset_url: Url
    expires_in: Line = "1 hour"


class MagicLink(_Vars):
    login_url: Url
    name: Line | None = None
    expires_in: Line = "15 minutes"
    ip_address: Line | None = None


class ApiKeyCreated(_Vars):
    name: Line
    key_name: Line
    key_prefix: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")] = Field(
        description="The key's public start (sk_live_ab12...): never the secret"
    )
    created_at: Line
    expires_at: Line | None = None


class Invite(_Vars):
    inviter_name: Line
    organization_name: Line
    invite_url: Url
    role: Line | None = None
    expires_in: Line = "7 days"


class Notification(_Vars):
    title: Line
    message: Text
    action_url: Url | None = None
    action_text: Line = "Open"


class Verification(_Vars):
    name: Line
    verification_url: Url
    code: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$")] | None = None
    expires_in: Line = "24 hours"


# -- the layout every HTML part extends --------------------------------------------------------------------

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{% block title %}{% endblock %}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;\
color:#1d1d1f">
<div style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:32px">
{% block body %}{% endblock %}
</div>
<p style="max-width:560px;margin:16px auto;font-size:12px;color:#86868b">Sent by dotdo. You receive this email \
because of an action on your account.</p>
</body></html>
"""

_BUTTON = (
    '<p><a href="{{ %s }}" style="display:inline-block;padding:12px 20px;background:#0071e3;color:#fff;'
    'border-radius:6px;text-decoration:none">%s</a></p>'
    '<p style="font-size:13px;color:#6e6e73">Or open this link: {{ %s }}</p>'
)


def _button(url: str, label: str) -> str:
    return _BUTTON % (url, label, url)


@dataclass(frozen=True)
class Source:
    """A template as written: its variables, subject, HTML body (inside the layout) and text part."""

    name: str
    model: type[BaseModel]
    description: str
    subject: str
    html: str
    text: str


SOURCES: tuple[Source, ...] = (
    Source(
        "welcome",
        Welcome,
        "A new account's welcome, with the sign-in link",
        "Welcome to {{ company_name }}!",
        "<h1>Welcome to {{ company_name }}, {{ name }}!</h1><p>Your account is ready.</p>"
        + _button("login_url", "Sign in"),
        "Welcome to {{ company_name }}, {{ name }}!\n\nYour account is ready. Sign in: {{ login_url }}\n",
    ),
    Source(
        "password-reset",
        PasswordReset,
        "A password reset link",
        "Reset your password",
        "<h1>Reset your password</h1><p>Hello {{ name }}, someone asked to reset your password. The link works for "
        "{{ expires_in }}.</p>" + _button("reset_url", "Choose a new password") + "<p>If it was not you, ignore "
        "this email: your password stays as it is.</p>",
        "Hello {{ name }},\n\nsomeone asked to reset your password. Choose a new one within {{ expires_in }}:\n"
        "{{ reset_url }}\n\nIf it was not you, ignore this email: your password stays as it is.\n",
    ),
    Source(
        "magic-link",
        MagicLink,
        "A one-time sign-in link",
        "Your sign-in link",
        "<h1>Sign in{% if name %}, {{ name }}{% endif %}</h1><p>This link signs you in once and works for "
        "{{ expires_in }}.</p>" + _button("login_url", "Sign in") + '{% if ip_address %}<p style="font-size:13px;'
        'color:#6e6e73">Requested from {{ ip_address }}.</p>{% endif %}',
        "Sign in{% if name %}, {{ name }}{% endif %}: {{ login_url }}\n\nThe link signs you in once and works for "
        "{{ expires_in }}.{% if ip_address %}\nRequested from {{ ip_address }}.{% endif %}\n",
    ),
    Source(
        "api-key-created",
        ApiKeyCreated,
        "Notice that an API key was created on the account",
        "New API key created",
        "<h1>New API key</h1><p>Hello {{ name }}, the API key <strong>{{ key_name }}</strong> "
        "(<code>{{ key_prefix }}…</code>) was created on {{ created_at }}{% if expires_at %}; it expires on "
        "{{ expires_at }}{% endif %}.</p><p>If you did not create it, revoke it and tell your administrator.</p>",
        "Hello {{ name }},\n\nthe API key {{ key_name }} ({{ key_prefix }}...) was created on {{ created_at }}"
        "{% if expires_at %}; it expires on {{ expires_at }}{% endif %}.\n\nIf you did not create it, revoke it and "
        "tell your administrator.\n",
    ),
    Source(
        "invite",
        Invite,
        "An invitation to join an organization",
        "You've been invited to join {{ organization_name }}",
        "<h1>Join {{ organization_name }}</h1><p>{{ inviter_name }} invited you to join "
        "<strong>{{ organization_name }}</strong>{% if role %} as {{ role }}{% endif %}. The invitation works for "
        "{{ expires_in }}.</p>" + _button("invite_url", "Accept the invitation"),
        "{{ inviter_name }} invited you to join {{ organization_name }}{% if role %} as {{ role }}{% endif %}.\n\n"
        "Accept within {{ expires_in }}: {{ invite_url }}\n",
    ),
    Source(
        "notification",
        Notification,
        "A notice with a title, a message and an optional link",
        "{{ title }}",
        '<h1>{{ title }}</h1><p style="white-space:pre-line">{{ message }}</p>'
        "{% if action_url %}" + _button("action_url", "{{ action_text }}") + "{% endif %}",
        "{{ title }}\n\n{{ message }}\n{% if action_url %}\n{{ action_text }}: {{ action_url }}\n{% endif %}",
    ),
    Source(
        "verification",
        Verification,
        "An email address confirmation link (and code)",
        "Verify your email address",
        "<h1>Verify your email address</h1><p>Hello {{ name }}, confirm this address within {{ expires_in }}.</p>"
        + _button("verification_url", "Verify")
        + '{% if code %}<p>Or enter this code: <strong style="letter-spacing:2px">{{ code }}</strong></p>{% endif %}',
        "Hello {{ name }},\n\nconfirm this address within {{ expires_in }}: {{ verification_url }}\n"
        "{% if code %}\nOr enter this code: {{ code }}\n{% endif %}",
    ),
)


# -- compiled once, at import ----------------------------------------------------------------------------

#: HTML: autoescape on for every template, whatever its name.
HTML_ENV = jinja2.Environment(
    loader=jinja2.DictLoader(
        {"layout.html": LAYOUT}
        | {
            f"{s.name}.html": '{% extends "layout.html" %}{% block title %}' + s.subject + "{% endblock %}"
            "{% block body %}" + s.html + "{% endblock %}"
            for s in SOURCES
        }
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    auto_reload=False,
)
#: Text and subjects: plain text, nothing to escape (one-line variables keep subjects one line).
TEXT_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701


@dataclass(frozen=True)
class Template:
    source: Source
    subject: jinja2.Template
    html: jinja2.Template
    text: jinja2.Template

    @property
    def name(self) -> str:
        return self.source.name

    def describe(self) -> dict[str, Any]:
        schema = self.source.model.model_json_schema()
        return {
            "name": self.name,
            "description": self.source.description,
            "required": sorted(schema.get("required", [])),
            "optional": sorted(set(schema.get("properties", {})) - set(schema.get("required", []))),
            "variables": schema,
        }


TEMPLATES: dict[str, Template] = {
    s.name: Template(
        s, TEXT_ENV.from_string(s.subject), HTML_ENV.get_template(f"{s.name}.html"), TEXT_ENV.from_string(s.text)
    )
    for s in SOURCES
}
NAMES = tuple(TEMPLATES)


@dataclass(frozen=True)
class Rendered:
    template: str
    subject: str
    html: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"template": self.template, "subject": self.subject, "html": self.html, "text": self.text}


class TemplateDataError(ValidationError):
    """The data does not fit the template: 400 `TEMPLATE_DATA_INVALID`, each field named."""

    code = "TEMPLATE_DATA_INVALID"


def template(name: str) -> Template:
    found = TEMPLATES.get(name)
    if found is None:
        raise ValidationError(
            f"No template {name[:80]!r}: one of {', '.join(NAMES)}",
            code="UNKNOWN_TEMPLATE",
            details={"templates": list(NAMES)},
        )
    return found


def variables(name: str, data: Any) -> BaseModel:
    """`data` checked against the template's model; TemplateDataError naming what is missing or invalid."""
    spec = template(name)
    try:
        return spec.source.model.model_validate(data if data is not None else {})
    except PydanticValidationError as exc:
        errors = field_errors(exc)
        missing = [e["field"] for e in errors if e.get("type") == "missing"]
        invalid = [e["field"] for e in errors if e.get("type") != "missing"]
        said = [f"missing {', '.join(missing)}" if missing else "", f"invalid {', '.join(invalid)}" if invalid else ""]
        raise TemplateDataError(
            f"Template {name}: {'; '.join(s for s in said if s)}",
            details={"template": name, "missing": missing, "errors": errors},
        ) from None


def render(name: str, data: Any) -> Rendered:
    """The template's subject, HTML and text for `data` (checked first)."""
    spec = template(name)
    values = variables(name, data).model_dump()
    subject = " ".join(spec.subject.render(values).split())
    return Rendered(name, subject, spec.html.render(values), spec.text.render(values))

"""The templates: each renders HTML and text from its checked variables, escaped in HTML; /preview and /templates."""

import pytest
from conftest import ADMIN, NOBODY, SENDER, post

import email_templates
from dotdo_dev.testing import envelope
from email_templates import NAMES, TEMPLATES, TemplateDataError, render

SAMPLES = {
    "welcome": {"name": "Ada", "login_url": "https://app.example.com/login"},
    "password-reset": {"name": "Ada", "reset_url": "https://app.example.com/reset/abc"},
    "magic-link": {"login_url": "https://app.example.com/magic/abc", "ip_address": "203.0.113.9"},
    "api-key-created": {"name": "Ada", "key_name": "ci", "key_prefix": "sk_live_ab12", "created_at": "2026-12-01"},
    "invite": {"inviter_name": "Grace", "organization_name": "Acme", "invite_url": "https://app.example.com/i/1"},
    "notification": {"title": "Build done", "message": "All green.", "action_url": "https://ci.example.com/1"},
    "verification": {"name": "Ada", "verification_url": "https://app.example.com/v/1", "code": "123-456"},
}


def test_the_seven_templates_exist():
    assert set(NAMES) == set(SAMPLES)
    assert len(NAMES) == 7


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_template_renders_an_html_and_a_text_part(name):
    rendered = render(name, SAMPLES[name])
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.html.startswith("<!doctype html>")
    assert "{{" not in rendered.html
    assert "{%" not in rendered.html
    assert "<" not in rendered.text  # the text part is plain text
    for value in SAMPLES[name].values():  # every variable given shows in both parts
        assert value in rendered.text
        assert value in rendered.html


def test_templates_are_compiled_at_import_not_per_request(monkeypatch):
    # compiled once at the module's top level (the deploy-time snapshot keeps them): rendering compiles nothing
    def no_compiling(*args, **kwargs):
        raise AssertionError("a template was compiled while rendering")

    monkeypatch.setattr(email_templates.HTML_ENV, "compile", no_compiling)
    monkeypatch.setattr(email_templates.TEXT_ENV, "compile", no_compiling)
    for name in NAMES:
        render(name, SAMPLES[name])
    assert all(t.html is TEMPLATES[t.name].html for t in TEMPLATES.values())


def test_a_script_in_a_variable_is_escaped_in_the_html_part():
    data = {"title": "<b>Hi</b>", "message": '<script>alert("x")</script> & more'}
    rendered = render("notification", data)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in rendered.html
    assert "&lt;b&gt;Hi&lt;/b&gt;" in rendered.html
    assert '<script>alert("x")</script> & more' in rendered.text  # plain text is not HTML: kept as written


def test_a_quote_cannot_leave_an_attribute():
    rendered = render("welcome", {"name": "Ada", "login_url": 'https://a.example/"onmouseover="alert(1)'})
    assert '"onmouseover="' not in rendered.html
    assert "&#34;onmouseover=&#34;" in rendered.html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.example/", "https://"])
def test_links_must_be_http_urls(url):
    with pytest.raises(TemplateDataError) as caught:
        render("welcome", {"name": "Ada", "login_url": url})
    assert caught.value.details["errors"][0]["field"] == "login_url"


def test_a_missing_variable_is_named():
    with pytest.raises(TemplateDataError) as caught:
        render("password-reset", {"name": "Ada"})
    err = caught.value
    assert (err.status, err.code) == (400, "TEMPLATE_DATA_INVALID")
    assert "reset_url" in err.message
    assert err.details["missing"] == ["reset_url"]


def test_a_line_break_cannot_reach_a_subject():
    with pytest.raises(TemplateDataError, match="title"):
        render("notification", {"title": "Hi\r\nBcc: x@example.com", "message": "m"})


def test_unknown_variables_are_refused():
    with pytest.raises(TemplateDataError, match="invalid surprise"):
        render("welcome", SAMPLES["welcome"] | {"surprise": 1})


def test_optional_variables_have_defaults():
    assert render("welcome", SAMPLES["welcome"]).subject == "Welcome to dotdo!"
    assert render("welcome", SAMPLES["welcome"] | {"company_name": "Acme"}).subject == "Welcome to Acme!"
    assert render("invite", SAMPLES["invite"]).subject == "You've been invited to join Acme"


# -- over HTTP -------------------------------------------------------------------------------------------------


async def test_preview_renders_without_sending(worker, resend):
    reply = await post(
        worker, "/preview", {"template": "notification", "data": {"title": "T", "message": "<i>"}}, SENDER
    )
    assert reply.status == 200
    data = (await envelope(reply))["data"]
    assert data["subject"] == "T"
    assert "&lt;i&gt;" in data["html"]
    assert data["text"].startswith("T\n")
    assert resend.sent == []


async def test_preview_with_a_missing_variable_is_a_400_naming_it(worker):
    reply = await post(worker, "/preview", {"template": "invite", "data": {"inviter_name": "G"}}, ADMIN)
    assert reply.status == 400
    error = (await envelope(reply))["error"]
    assert error["code"] == "TEMPLATE_DATA_INVALID"
    assert "organization_name" in error["message"]
    assert "invite_url" in error["message"]


async def test_preview_of_an_unknown_template_is_a_400_listing_them(worker):
    reply = await post(worker, "/preview", {"template": "nope", "data": {}}, ADMIN)
    assert reply.status == 400
    error = (await envelope(reply))["error"]
    assert error["code"] == "UNKNOWN_TEMPLATE"
    assert set(error["details"]["templates"]) == set(NAMES)


async def test_preview_needs_credentials_and_the_permission(worker):
    body = {"template": "welcome", "data": SAMPLES["welcome"]}
    assert (await post(worker, "/preview", body, {})).status == 401
    assert (await post(worker, "/preview", body, NOBODY)).status == 403


async def test_templates_lists_each_with_its_variables(worker):
    reply = await worker.fetch("/templates", headers=SENDER)
    listed = {t["name"]: t for t in (await envelope(reply))["data"]["templates"]}
    assert set(listed) == set(NAMES)
    assert listed["password-reset"]["required"] == ["name", "reset_url"]
    assert "expires_in" in listed["password-reset"]["optional"]

"""`js.HTMLRewriter` for the local runtime: Cloudflare's streaming HTML rewriter, on a whole body.

    rewriter = HTMLRewriter.new()
    rewriter.on('meta[property^="og:"]', create_proxy(Remover()))   # handler.element(element)
    rewriter.on("head", create_proxy(Injector()))                   # element.prepend(html, html=True)
    return rewriter.transform(response.js_object)                   # a Response with the rewritten body

As on Cloudflare (its HTMLRewriter docs): handlers are objects with `element(el)`, `text(chunk)` and
`comments(comment)` methods, called in document order for every match of their selector; `onDocument`
handlers get `doctype`, `comments`, `text` and `end`. Content given to `before`, `after`, `prepend`,
`append`, `replace` and `setInnerContent` is escaped text unless `html=True` (a keyword, or a dict or JS
object `{"html": True}` as under Pyodide). Selectors: `*`, `tag`, `#id`, `.class`, `[attr]`,
`[attr=v]`, `[attr~=v]`, `[attr|=v]`, `[attr^=v]`, `[attr$=v]`, `[attr*=v]` (with `i` for case), their
compounds, and the descendant (` `) and child (`>`) combinators; anything else is a `TypeError` when
`on()` is called, as Cloudflare refuses it there. Locally the whole body is read and rewritten at once
(Cloudflare streams it); a text node is one chunk, followed by an empty one with `lastInTextNode`.
Markup the handlers leave alone is passed through as written, end tags apart (written `</name>`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

#: Elements that have no end tag (HTML's void elements).
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)

_SIMPLE = re.compile(
    r"""(?P<tag>\*|[A-Za-z][A-Za-z0-9-]*)
      | \#(?P<id>[A-Za-z0-9_-]+)
      | \.(?P<cls>[A-Za-z0-9_-]+)
      | \[\s*(?P<attr>[A-Za-z_:][-A-Za-z0-9_:.]*)\s*
          (?:(?P<op>[~|^$*]?=)\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s\]]+))\s*(?P<flag>[iI])?\s*)?\]""",
    re.VERBOSE,
)


@dataclass
class _Compound:
    tag: str | None = None
    tests: list[Callable[[dict[str, str]], bool]] = field(default_factory=list)

    def matches(self, tag: str, attrs: dict[str, str]) -> bool:
        return (self.tag in (None, "*") or self.tag == tag) and all(test(attrs) for test in self.tests)


def _attribute_test(name: str, op: str | None, value: str | None, fold: bool) -> Callable[[dict[str, str]], bool]:
    name = name.lower()

    def test(attrs: dict[str, str]) -> bool:
        if name not in attrs:
            return False
        if op is None:
            return True
        have, want = attrs[name], value or ""
        if fold:
            have, want = have.lower(), want.lower()
        if op == "=":
            return have == want
        if op == "~=":
            return want in have.split()
        if op == "|=":
            return have == want or have.startswith(want + "-")
        if op == "^=":
            return bool(want) and have.startswith(want)
        if op == "$=":
            return bool(want) and have.endswith(want)
        return bool(want) and want in have  # *=

    return test


def parse_selector(selector: str) -> list[tuple[str, _Compound]]:
    """`[(combinator, compound), ...]` left to right (the first combinator is ""); TypeError if unsupported."""
    if not isinstance(selector, str) or not selector.strip():
        raise TypeError("HTMLRewriter.on() needs a CSS selector")
    parts: list[tuple[str, _Compound]] = []
    text, position, combinator = selector.strip(), 0, ""
    while position < len(text):
        compound = _Compound()
        start = position
        while position < len(text):
            found = _SIMPLE.match(text, position)
            if not found:
                break
            if found["tag"]:
                if position != start:
                    break
                compound.tag = found["tag"].lower()
            elif found["id"]:
                compound.tests.append(_attribute_test("id", "=", found["id"], False))
            elif found["cls"]:
                compound.tests.append(_attribute_test("class", "~=", found["cls"], False))
            else:
                value = (
                    found["dq"]
                    if found["dq"] is not None
                    else found["sq"]
                    if found["sq"] is not None
                    else found["bare"]
                )
                compound.tests.append(_attribute_test(found["attr"], found["op"], value, bool(found["flag"])))
            position = found.end()
        if position == start:
            raise TypeError(f"HTMLRewriter: unsupported selector {selector!r} (at {text[position:][:20]!r})")
        parts.append((combinator, compound))
        gap = re.match(r"\s*(>)?\s*", text[position:])
        assert gap is not None
        combinator = ">" if gap.group(1) else " "
        position += gap.end()
        if position >= len(text) and gap.group(1):
            raise TypeError(f"HTMLRewriter: unsupported selector {selector!r} (ends with a combinator)")
    return parts


def _selector_matches(parts: list[tuple[str, _Compound]], stack: list[tuple[str, dict[str, str]]]) -> bool:
    """Whether the element at the top of `stack` (its ancestors below it) matches the selector."""

    def match(part: int, depth: int) -> bool:
        combinator, compound = parts[part]
        tag, attrs = stack[depth]
        if not compound.matches(tag, attrs):
            return False
        if part == 0:
            return True
        if combinator == ">":
            return depth > 0 and match(part - 1, depth - 1)
        return any(match(part - 1, ancestor) for ancestor in range(depth - 1, -1, -1))

    return bool(stack) and match(len(parts) - 1, len(stack) - 1)


def _inside_match(parts: list[tuple[str, _Compound]], stack: list[tuple[str, dict[str, str]]]) -> bool:
    """Whether any element open at this point matches: a handler's `text` and `comments` see the whole
    content of the elements its selector matches, nested elements' included."""
    return any(_selector_matches(parts, stack[: depth + 1]) for depth in range(len(stack)))


def _is_html(options: Any, kwargs: dict[str, Any]) -> bool:
    if "html" in kwargs:
        return bool(kwargs["html"])
    if options is None:
        return False
    if isinstance(options, dict):
        return bool(options.get("html"))
    return bool(getattr(options, "html", False))


def _content(content: Any, options: Any, kwargs: dict[str, Any]) -> str:
    text = str(content)
    return text if _is_html(options, kwargs) else html.escape(text, quote=False)


def _method(handler: Any, name: str) -> Callable[..., Any] | None:
    target = handler.unwrap() if hasattr(handler, "unwrap") else handler
    method = getattr(target, name, None)
    return method if callable(method) else None


class _Edits:
    """What handlers asked of one piece of markup: text before/after, a replacement, removal."""

    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[str] = []
        self.replacement: str | None = None
        self.removed = False

    def wrap(self, own: str) -> str:
        middle = "" if self.removed else own if self.replacement is None else self.replacement
        return "".join(self.before) + middle + "".join(self.after)


class Element:
    """An element as a handler sees it (Cloudflare's `Element`)."""

    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], void: bool) -> None:
        self._tag = tag
        self._attrs = [(k, "" if v is None else v) for k, v in attrs]
        self._attributes_changed = False
        self.edits = _Edits()
        self.prepended: list[str] = []
        self.appended: list[str] = []
        self.inner: str | None = None
        self.keep_content = False
        self.void = void
        self.end_tag_handlers: list[Callable[..., Any]] = []

    @property
    def tagName(self) -> str:
        return self._tag

    @tagName.setter
    def tagName(self, value: str) -> None:
        self._tag, self._attributes_changed = str(value).lower(), True

    @property
    def attributes(self) -> list[list[str]]:
        return [[k, v] for k, v in self._attrs]

    @property
    def removed(self) -> bool:
        return self.edits.removed

    @property
    def namespaceURI(self) -> str:
        return "http://www.w3.org/1999/xhtml"

    def getAttribute(self, name: str) -> str | None:
        return next((v for k, v in self._attrs if k == name.lower()), None)

    def hasAttribute(self, name: str) -> bool:
        return any(k == name.lower() for k, _ in self._attrs)

    def setAttribute(self, name: str, value: str) -> Element:
        name, value = name.lower(), str(value)
        if self.hasAttribute(name):
            self._attrs = [(k, value if k == name else v) for k, v in self._attrs]
        else:
            self._attrs.append((name, value))
        self._attributes_changed = True
        return self

    def removeAttribute(self, name: str) -> Element:
        self._attrs = [(k, v) for k, v in self._attrs if k != name.lower()]
        self._attributes_changed = True
        return self

    def before(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.edits.before.append(_content(content, options, kwargs))
        return self

    def after(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.edits.after.insert(0, _content(content, options, kwargs))
        return self

    def prepend(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.prepended.insert(0, _content(content, options, kwargs))
        return self

    def append(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.appended.append(_content(content, options, kwargs))
        return self

    def setInnerContent(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.inner = _content(content, options, kwargs)
        return self

    def replace(self, content: Any, options: Any = None, **kwargs: Any) -> Element:
        self.edits.replacement = _content(content, options, kwargs)
        return self

    def remove(self) -> Element:
        self.edits.removed = True
        return self

    def removeAndKeepContent(self) -> Element:
        self.keep_content = True
        return self

    def onEndTag(self, handler: Any) -> None:
        self.end_tag_handlers.append(handler)

    def start_tag(self, original: str) -> str:
        if not self._attributes_changed:
            return original
        attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in self._attrs)
        return f"<{self._tag}{attrs}>"


class TextChunk:
    """A piece of text as a handler sees it (Cloudflare's `Text`)."""

    def __init__(self, text: str, last: bool) -> None:
        self.text = text
        self.lastInTextNode = last
        self.edits = _Edits()

    @property
    def removed(self) -> bool:
        return self.edits.removed

    def before(self, content: Any, options: Any = None, **kwargs: Any) -> TextChunk:
        self.edits.before.append(_content(content, options, kwargs))
        return self

    def after(self, content: Any, options: Any = None, **kwargs: Any) -> TextChunk:
        self.edits.after.insert(0, _content(content, options, kwargs))
        return self

    def replace(self, content: Any, options: Any = None, **kwargs: Any) -> TextChunk:
        self.edits.replacement = _content(content, options, kwargs)
        return self

    def remove(self) -> TextChunk:
        self.edits.removed = True
        return self


class Comment(TextChunk):
    """A comment as a handler sees it (Cloudflare's `Comment`; `text` is what is between the markers)."""


@dataclass
class _Open:
    element: Element | None  # None when no handler saw it (passed through)
    tag: str
    output_start: int  # where its content starts in the output
    inner_replaced: bool = False


class _Rewrite(HTMLParser):
    def __init__(self, rewriter: HTMLRewriter) -> None:
        super().__init__(convert_charrefs=False)
        self.rewriter = rewriter
        self.out: list[str] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.open: list[_Open] = []
        self.suppress = 0  # inside a removed element or replaced inner content

    def emit(self, text: str) -> None:
        if not self.suppress:
            self.out.append(text)

    # -- elements -----------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self.get_starttag_text() or f"<{tag}>", tag in VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self.get_starttag_text() or f"<{tag}/>", True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], original: str, void: bool) -> None:
        attributes = {k.lower(): "" if v is None else v for k, v in attrs}
        self.stack.append((tag, attributes))
        element = None
        if not self.suppress:
            handlers = [h for parts, h in self.rewriter.element_handlers if _selector_matches(parts, self.stack)]
            if handlers:
                element = Element(tag, attrs, void)
                for handler in handlers:
                    method = _method(handler, "element")
                    if method is not None:
                        method(element)
        if element is None:
            self.emit(original)
            if void:
                self.stack.pop()
            else:
                self.open.append(_Open(None, tag, len(self.out)))
            return
        edits = element.edits
        if edits.removed or edits.replacement is not None:
            self.emit(edits.wrap(""))
            if not void:
                self.suppress += 1
                self.open.append(_Open(element, tag, len(self.out)))
            else:
                self.stack.pop()
            return
        self.emit("".join(edits.before))
        if not element.keep_content:
            self.emit(element.start_tag(original))
        if void:
            self.emit("".join(edits.after))
            self.stack.pop()
            return
        if element.inner is not None:
            self.emit("".join(element.prepended) + element.inner + "".join(element.appended))
            self.suppress += 1
            self.open.append(_Open(element, tag, len(self.out), inner_replaced=True))
            return
        self.emit("".join(element.prepended))
        self.open.append(_Open(element, tag, len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if not any(o.tag == tag for o in self.open):
            self.emit(f"</{tag}>")  # a stray end tag: passed through
            return
        while self.open:
            current = self.open.pop()
            self.stack.pop()
            self._end(current)
            if current.tag == tag:
                return

    def _end(self, current: _Open) -> None:
        element = current.element
        if element is None:
            self.emit(f"</{current.tag}>")
            return
        edits = element.edits
        if edits.removed or edits.replacement is not None:
            self.suppress -= 1
            return
        if current.inner_replaced:
            self.suppress -= 1
        else:
            self.emit("".join(element.appended))
        end = f"</{element.tagName}>"
        for handler in element.end_tag_handlers:
            tag_end = EndTag(element.tagName)
            (handler.unwrap() if hasattr(handler, "unwrap") else handler)(tag_end)
            end = "".join(tag_end.edits.before) + ("" if tag_end.edits.removed else f"</{tag_end.name}>")
            end += "".join(tag_end.edits.after)
        if not element.keep_content:
            self.emit(end)
        self.emit("".join(edits.after))

    def close(self) -> None:
        super().close()
        while self.open:
            current = self.open.pop()
            self.stack.pop()
            self._end(current)

    # -- text and comments --------------------------------------------------------------------------
    def _text(self, text: str) -> None:
        if self.suppress:
            return
        handlers = [h for parts, h in self.rewriter.element_handlers if _inside_match(parts, self.stack)]
        handlers += self.rewriter.document_handlers
        methods = [m for m in (_method(h, "text") for h in handlers) if m is not None]
        if not methods:
            self.emit(text)
            return
        for piece, last in ((text, False), ("", True)):
            chunk = TextChunk(piece, last)
            for method in methods:
                method(chunk)
            self.emit(chunk.edits.wrap(piece))

    def handle_data(self, data: str) -> None:
        self._text(data)

    def handle_entityref(self, name: str) -> None:
        self._text(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._text(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        if self.suppress:
            return
        handlers = [h for parts, h in self.rewriter.element_handlers if _inside_match(parts, self.stack)]
        handlers += self.rewriter.document_handlers
        comment = Comment(data, True)
        for method in (m for m in (_method(h, "comments") for h in handlers) if m is not None):
            method(comment)
        self.emit(comment.edits.wrap(f"<!--{comment.text}-->"))

    def handle_decl(self, decl: str) -> None:
        self.emit(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.emit(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.emit(f"<![{data}]>")


class EndTag:
    """An end tag as an `onEndTag` handler sees it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.edits = _Edits()

    def before(self, content: Any, options: Any = None, **kwargs: Any) -> EndTag:
        self.edits.before.append(_content(content, options, kwargs))
        return self

    def after(self, content: Any, options: Any = None, **kwargs: Any) -> EndTag:
        self.edits.after.insert(0, _content(content, options, kwargs))
        return self

    def remove(self) -> EndTag:
        self.edits.removed = True
        return self


class DocumentEnd:
    """What an `onDocument` handler's `end(end)` gets: `append` to the end of the document."""

    def __init__(self) -> None:
        self.appended: list[str] = []

    def append(self, content: Any, options: Any = None, **kwargs: Any) -> DocumentEnd:
        self.appended.append(_content(content, options, kwargs))
        return self


class HTMLRewriter:
    """`HTMLRewriter.new()`, `.on(selector, handler)`, `.onDocument(handler)`, `.transform(response)`."""

    def __init__(self) -> None:
        self.element_handlers: list[tuple[list[tuple[str, _Compound]], Any]] = []
        self.document_handlers: list[Any] = []

    @staticmethod
    def new() -> HTMLRewriter:
        """A rewriter with no handlers (JavaScript's `new HTMLRewriter()`)."""
        return HTMLRewriter()

    def on(self, selector: str, handler: Any) -> HTMLRewriter:
        """Call `handler`'s `element`, `text` and `comments` for every match of `selector`."""
        self.element_handlers.append((parse_selector(selector), handler))
        return self

    def onDocument(self, handler: Any) -> HTMLRewriter:
        """Call `handler`'s `text`, `comments` and `end` for the whole document."""
        self.document_handlers.append(handler)
        return self

    def rewrite(self, markup: str) -> str:
        """The rewritten markup (what `transform` puts in the response)."""
        parser = _Rewrite(self)
        parser.feed(markup)
        parser.close()
        end = DocumentEnd()
        for method in (m for m in (_method(h, "end") for h in self.document_handlers) if m is not None):
            method(end)
        return "".join(parser.out) + "".join(end.appended)

    def transform(self, response: Any) -> Any:
        """A new `Response`: `response`'s status and headers (less content-length) with the body rewritten."""
        import workers

        raw = getattr(response, "js_object", response)
        body = getattr(raw, "body", None)
        if body is None:
            body = getattr(response, "_body", None)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body or "")
        headers = [(k, v) for k, v in getattr(raw, "header_list", []) if k.lower() != "content-length"]
        return workers.Response(
            self.rewrite(text),
            status=getattr(raw, "status", 200),
            status_text=getattr(raw, "status_text", ""),
            headers=headers,
        )

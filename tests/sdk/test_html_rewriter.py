"""`js.HTMLRewriter` (dotdo_dev/sdk/js/_html_rewriter.py): selectors, element, text and comment handlers,
escaped or raw content, removal, onDocument, and `transform` of a response, as Cloudflare documents them."""

import pytest
from js import HTMLRewriter
from pyodide.ffi import create_proxy
from workers import Response

PAGE = (
    "<!DOCTYPE html><html><head><title>Old</title>"
    '<meta property="og:title" content="old"><meta name="twitter:card" content="x">'
    '<meta name="description" content="keep"></head>'
    '<body class="main page"><p id="intro">Hello &amp; <b>welcome</b></p><!-- note --><img src="a.png"></body></html>'
)


class Calls:
    """A handler recording what it was given, and doing `action` to it."""

    def __init__(self, action=None):
        self.seen = []
        self.action = action

    def element(self, element):
        self.seen.append(("element", element.tagName))
        if self.action:
            self.action(element)

    def text(self, chunk):
        self.seen.append(("text", chunk.text, chunk.lastInTextNode))

    def comments(self, comment):
        self.seen.append(("comment", comment.text))


def rewrite(*rules, document=None, page=PAGE):
    rewriter = HTMLRewriter.new()
    for selector, handler in rules:
        rewriter.on(selector, create_proxy(handler))
    if document is not None:
        rewriter.onDocument(document)
    return rewriter.rewrite(page)


def test_untouched_markup_passes_through_as_written():
    assert rewrite(("nothing-matches", Calls())) == PAGE


@pytest.mark.parametrize(
    ("selector", "tags"),
    [
        ("meta", ["meta", "meta", "meta"]),
        ('meta[property^="og:"]', ["meta"]),
        ("meta[name^='twitter:']", ["meta"]),
        ("meta[content]", ["meta", "meta", "meta"]),
        ("meta[content=keep]", ["meta"]),
        ("body.main", ["body"]),
        (".page", ["body"]),
        ("#intro", ["p"]),
        ("p b", ["b"]),
        ("body > b", []),
        ("p > b", ["b"]),
        ("head title", ["title"]),
        ("img[src$='.png']", ["img"]),
        ("meta[name*=itter]", ["meta"]),
        ("META[NAME=DESCRIPTION i]", ["meta"]),
    ],
)
def test_selectors_match_as_css_does(selector, tags):
    calls = Calls()
    rewrite((selector, calls))
    assert [seen[1] for seen in calls.seen if seen[0] == "element"] == tags


@pytest.mark.parametrize("selector", ["", "p:hover", "a, b", "p >", "::before"])
def test_an_unsupported_selector_is_refused_when_added(selector):
    with pytest.raises(TypeError):
        HTMLRewriter.new().on(selector, Calls())


def test_the_opengraph_pattern_removes_old_tags_and_prepends_escaped_new_ones():
    def inject(head):
        head.prepend('<meta property="og:title" content="A &quot;B&quot;" />', html=True)

    out = rewrite(
        ('meta[property^="og:"]', Calls(lambda e: e.remove())),
        ('meta[name^="twitter:"]', Calls(lambda e: e.remove())),
        ("head", Calls(inject)),
    )
    assert out.startswith('<!DOCTYPE html><html><head><meta property="og:title" content="A &quot;B&quot;" /><title>')
    assert 'content="old"' not in out
    assert "twitter:card" not in out
    assert '<meta name="description" content="keep">' in out


def test_content_is_escaped_unless_it_is_html():
    out = rewrite(("#intro", Calls(lambda e: (e.append("<i>x</i>"), e.before("<hr>", {"html": True})))))
    assert '<hr><p id="intro">Hello &amp; <b>welcome</b>&lt;i&gt;x&lt;/i&gt;</p>' in out


def test_attributes_inner_content_replace_and_keep_content():
    def edit(element):
        element.setAttribute("data-x", 'a"b')
        element.removeAttribute("id")
        element.setInnerContent("<em>new</em>", html=True)

    out = rewrite(("p", Calls(edit)), ("img", Calls(lambda e: e.replace("[image]"))))
    assert '<p data-x="a&quot;b"><em>new</em></p>' in out
    assert "[image]" in out
    assert "<img" not in out
    unwrapped = rewrite(("b", Calls(lambda e: e.removeAndKeepContent())))
    assert "Hello &amp; welcome</p>" in unwrapped


def test_element_api_reads_what_the_markup_says():
    seen = {}

    def read(element):
        seen.update(
            tag=element.tagName,
            cls=element.getAttribute("class"),
            has=element.hasAttribute("CLASS"),
            missing=element.getAttribute("nope"),
            attributes=element.attributes,
        )

    rewrite(("body", Calls(read)))
    assert seen == {
        "tag": "body",
        "cls": "main page",
        "has": True,
        "missing": None,
        "attributes": [["class", "main page"]],
    }


def test_text_and_comment_handlers_see_chunks_in_order():
    calls = Calls()
    rewrite(("p", calls))
    assert calls.seen == [
        ("element", "p"),
        ("text", "Hello ", False),
        ("text", "", True),
        ("text", "&amp;", False),
        ("text", "", True),
        ("text", " ", False),
        ("text", "", True),
        ("text", "welcome", False),  # the text of elements inside the match too
        ("text", "", True),
    ]
    comments = Calls()
    rewrite(("body", comments))
    assert ("comment", " note ") in comments.seen


def test_text_can_be_replaced_and_comments_removed():
    class Shout:
        def text(self, chunk):
            if chunk.text == "welcome":
                chunk.replace("WELCOME")

        def comments(self, comment):
            comment.remove()

    out = rewrite(("body", Shout()))
    assert "<b>WELCOME</b>" in out
    assert "<!--" not in out


def test_on_document_appends_at_the_end():
    class Document:
        def end(self, end):
            end.append("<!-- served locally -->", html=True)

    assert rewrite(document=Document()).endswith("</html><!-- served locally -->")


async def test_transform_gives_a_response_with_the_rewritten_body_and_headers():
    original = Response(PAGE, status=201, headers={"content-type": "text/html", "content-length": "999", "x-a": "1"})
    rewriter = HTMLRewriter.new().on("title", create_proxy(Calls(lambda e: e.setInnerContent("New"))))
    rewritten = rewriter.transform(original.js_object)
    assert rewritten.status == 201
    assert rewritten.headers["x-a"] == "1"
    assert rewritten.headers.get("content-length") != "999"
    assert "<title>New</title>" in await rewritten.text()

"""User-written markdown (``doc_md``) to HTML that is safe to put in a page.

markdown-it (CommonMark, tables and strikethrough) renders the text with raw HTML
disabled, and nh3 then keeps only a fixed set of harmless tags and attributes, so
neither markdown links (``javascript:``) nor raw HTML can run script in the page.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
})
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
_SCHEMES = frozenset({"http", "https", "mailto"})


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Imported on the first page with markdown: a web server that shows none keeps none.
    from markdown_it import MarkdownIt

    # html=False: raw HTML in the text is shown as text, never interpreted.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"])


def render_markdown(text: str | None) -> Markup:
    """``text`` as sanitized HTML, ready for a template (empty for None)."""
    if not text:
        return Markup("")
    import nh3

    html = _parser().render(text)
    clean = nh3.clean(html, tags=set(_TAGS), attributes={k: set(v) for k, v in
                                                        _ATTRIBUTES.items()},
                      url_schemes=set(_SCHEMES), link_rel="noopener noreferrer nofollow")
    return Markup(clean)  # sanitized just above, so safe to mark as such


__all__ = ["render_markdown"]

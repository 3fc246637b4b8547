"""Markdown to sanitized HTML (markdown-it-py + nh3 allow-list), and plain-text excerpts."""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=2048)
def render_html(markdown: str) -> str:
    """Markdown rendered to HTML with only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        _MD.render(markdown),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def excerpt(markdown: str, length: int) -> str:
    """Plain text of the rendered Markdown, at most ``length`` characters (ends with …)."""
    text = html.unescape(nh3.clean(render_html(markdown), tags=set()))
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    if " " in cut[length // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"

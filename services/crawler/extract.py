"""Page decoding (UTF-8, EUC-KR/CP949 whatever the header says) and article text/metadata extraction."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

import trafilatura
from parsel import Selector

from services.crawler.profiles import Selectors

logger = logging.getLogger(__name__)

# Labels that mean a Korean multi-byte encoding; CP949 is a superset of EUC-KR, so decode with it.
KOREAN_LABELS = {
    "euc-kr",
    "euc_kr",
    "euckr",
    "cp949",
    "ms949",
    "uhc",
    "ks_c_5601-1987",
    "ks_c_5601",
    "ksc5601",
    "x-windows-949",
    "windows-949",
    "korean",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def charset_from_content_type(content_type: str) -> str:
    """The charset parameter of a Content-Type header value, lower-cased ('' if absent)."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").lower()
    return ""


def decode_html(body: bytes, declared: str = "") -> tuple[str, str]:
    """Decode an HTML page; returns (text, encoding used).

    Strict UTF-8 first (a valid UTF-8 Korean page is almost never anything else), then CP949 for any
    Korean label in the header or a <meta> tag, then CP949 anyway (headers often lie or say nothing),
    then the declared single-byte encoding, and last UTF-8 with replacement characters.
    """
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    labels = [declared.lower()] if declared else []
    match = _META_CHARSET.search(body[:4096])
    if match:
        labels.append(match.group(1).decode("ascii", "replace").lower())
    try:
        return body.decode("cp949"), "cp949"
    except UnicodeDecodeError:
        pass
    for label in labels:
        if label in KOREAN_LABELS:
            continue  # already tried as cp949
        try:
            return body.decode(label), label
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace"), "utf-8"


def hangul_ratio(text: str) -> float:
    """Share of Hangul syllables among the non-space characters of text."""
    chars = sum(1 for c in text if not c.isspace())
    return len(_HANGUL.findall(text)) / chars if chars else 0.0


def clean_paragraph(text: str) -> str:
    """One paragraph on one line: runs of spaces (and line breaks inside it) collapsed."""
    return _SPACES.sub(" ", " ".join(text.split("\n"))).strip()


def content_hash(text: str) -> str:
    """sha256 of the text with all whitespace removed, so re-wrapped copies hash alike."""
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()


@dataclass
class Article:
    """What was extracted from one article page; text keeps paragraphs as '\n'."""

    title: str = ""
    author: str = ""
    published: str = ""
    tags: list[str] = field(default_factory=list)
    text: str = ""
    extractor: str = ""  # "selector" or "trafilatura"


def _select(sel: Selector, expr: str) -> list[Selector]:
    if expr.startswith("xpath:"):
        return list(sel.xpath(expr.removeprefix("xpath:")))
    return list(sel.css(expr))


def _node_text(node: Selector) -> str:
    # Attribute and text nodes are strings already; elements are flattened with string().
    value = node.get()
    if isinstance(value, str) and not value.lstrip().startswith("<"):
        return clean_paragraph(value)
    return clean_paragraph(node.xpath("string(.)").get() or "")


def _first(sel: Selector, expr: str) -> str:
    for node in _select(sel, expr) if expr else ():
        text = _node_text(node)
        if text:
            return text
    return ""


def _paragraphs(sel: Selector, expr: str) -> str:
    paragraphs: list[str] = []
    for node in _select(sel, expr):
        blocks = node.xpath(".//p|.//h2|.//h3|.//blockquote|.//li")
        if blocks:
            paragraphs.extend(_node_text(b) for b in blocks)
        else:
            raw = node.xpath("string(.)").get() or ""
            paragraphs.extend(clean_paragraph(line) for line in raw.split("\n"))
    return "\n".join(p for p in paragraphs if p)


def _meta(sel: Selector, *names: str) -> list[str]:
    found = []
    for name in names:
        found += sel.xpath(f"//meta[@property='{name}' or @name='{name}']/@content").getall()
    return [clean_paragraph(v) for v in found if v.strip()]


def extract_article(html: str, url: str, selectors: Selectors, selector: Selector | None = None) -> Article:
    """Title, author, date, tags and body text of an article page.

    Each field comes from its selector when one is given and finds something, else from the page's
    metadata (Open Graph / article:* / author meta tags); the body falls back to trafilatura.
    Pass the page's already parsed selector (a Scrapy response's) to save parsing it again.
    """
    sel = selector if selector is not None else Selector(text=html)
    article = Article()
    if selectors.body:
        article.text = _paragraphs(sel, selectors.body)
        article.extractor = "selector"
    extracted = None
    if not article.text:
        extracted = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
        )
        if extracted is not None and extracted.text:
            lines = (clean_paragraph(line) for line in extracted.text.split("\n"))
            article.text = "\n".join(line for line in lines if line)
            article.extractor = "trafilatura"
    article.title = (
        _first(sel, selectors.title)
        or next(iter(_meta(sel, "og:title")), "")
        or (extracted.title if extracted is not None and extracted.title else "")
        or clean_paragraph(sel.xpath("string(//title)").get() or "")
    )
    if article.extractor == "trafilatura" and article.title:
        # trafilatura often keeps the headline as the first line of the body
        first, _, rest = article.text.partition("\n")
        if first == article.title:
            article.text = rest
    article.author = (
        _first(sel, selectors.author)
        or next(iter(_meta(sel, "article:author", "author")), "")
        or (extracted.author if extracted is not None and extracted.author else "")
    )
    article.published = (
        _first(sel, selectors.published)
        or next(iter(_meta(sel, "article:published_time", "date")), "")
        or (extracted.date if extracted is not None and extracted.date else "")
    )
    tags = [_node_text(n) for n in _select(sel, selectors.tags)] if selectors.tags else []
    if not tags:
        tags = _meta(sel, "article:tag")
    if not tags:
        keywords = next(iter(_meta(sel, "keywords")), "")
        tags = [t.strip() for t in keywords.split(",")]
    article.tags = list(dict.fromkeys(t.lstrip("#") for t in tags if t.strip()))
    return article

"""The bundled demo site: a small blog of original Korean essays (or any corpus) served over HTTP.

It has what a crawler meets on real essay platforms: tag listings with pagination, article pages
wrapped in navigation, ads, comments and footer, an author page, one essay under two URLs, a
robots.txt that disallows a section, pages in EUC-KR/CP949, and a JSON listing API.
"""

from __future__ import annotations

import html
import io
import json
import logging
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import zstandard

logger = logging.getLogger(__name__)

ESSAYS = Path(__file__).resolve().parents[2] / "examples" / "demo-site" / "essays.toml"
SITE_NAME = "함께 쓰는 수필"
ALL_TAG = "수필"  # every post carries it; the demo spec starts at /tags/수필
DEFAULT_PORT = 8765
AUTHOR_SLUGS = {
    "윤서하": "yoon-seoha",
    "김도윤": "kim-doyoon",
    "박하늘": "park-haneul",
    "이정원": "lee-jeongwon",
    "최민재": "choi-minjae",
}
# How some demo posts are served, to exercise decoding: no charset anywhere, or CP949 bytes under
# a header that says EUC-KR (CP949-only syllables such as 똠 are not in EUC-KR).
ENCODINGS = {12: ("euc-kr", "text/html", False), 21: ("cp949", "text/html; charset=euc-kr", True)}
DRAFTS = {901: "임시 저장된 글: 아직 공개하지 않은 초고입니다.", 902: "비공개 메모: 다음 글의 개요."}


@dataclass
class Post:
    """One essay on the site."""

    id: int
    title: str
    author: str
    date: str
    tags: list[str]
    paragraphs: list[str]
    author_slug: str = ""


@dataclass
class Site:
    """The site's content and how it renders; pages are rendered once and cached."""

    posts: list[Post]
    page_size: int = 10
    featured: int = 5  # also served at /best/posts/<id>: the same essay under a second URL
    encodings: dict[int, tuple[str, str, bool]] = field(default_factory=dict)
    delay: float = 0.0  # seconds added to every article response (tests use it to slow a crawl)

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for p in self.posts}
        tags: dict[str, list[Post]] = {}
        authors: dict[str, list[Post]] = {}
        for post in self.posts:
            for tag in post.tags:
                tags.setdefault(tag, []).append(post)
            authors.setdefault(post.author_slug, []).append(post)
        self.tags = dict(sorted(tags.items(), key=lambda kv: (-len(kv[1]), kv[0])))
        self.authors = authors
        self.render = lru_cache(maxsize=None)(self._render)

    # ---- pieces ----------------------------------------------------------------------------

    def _sidebar(self) -> str:
        cloud = " ".join(
            f'<a class="tag" href="{quote("/tags/" + t)}">{html.escape(t)} ({len(ps)})</a>'
            for t, ps in self.tags.items()
        )
        featured = self.by_id.get(self.featured)
        best = (
            f'<li><a href="/best/posts/{featured.id}">{html.escape(featured.title)}</a></li>'
            if featured
            else ""
        )
        drafts = "".join(f'<li><a href="/private/posts/{n}">작성 중인 글 {n}</a></li>' for n in DRAFTS)
        return (
            '<aside class="sidebar"><section><h2>태그</h2><p>' + cloud + "</p></section>"
            "<section><h2>이번 주 인기 글</h2><ul>" + best + "</ul></section>"
            "<section><h2>작가의 서랍</h2><ul>" + drafts + "</ul></section>"
            '<section class="newsletter"><h2>뉴스레터</h2><p>매주 금요일, 새 글 소식을 메일로 받아 보세요. '
            "구독은 언제든 해지할 수 있습니다.</p></section></aside>"
        )

    def _page(self, title: str, main: str, *, head: str = "", charset: str | None = "utf-8") -> str:
        meta = f'<meta charset="{charset}">' if charset else ""
        return (
            f'<!doctype html><html lang="ko"><head>{meta}<title>{html.escape(title)} | {SITE_NAME}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{head}</head><body>'
            f'<header class="site-header"><a class="logo" href="/">{SITE_NAME}</a><nav>'
            f'<a href="{quote("/tags/" + ALL_TAG)}">전체 글</a> <a href="/about">블로그 소개</a> '
            '<a href="/login">로그인</a></nav></header>'
            '<div class="ad-banner">광고 · 지금 가입하면 첫 달 무료! 프리미엄 글쓰기 강좌를 만나 보세요.</div>'
            f"<main>{main}</main>{self._sidebar()}"
            '<footer class="site-footer"><p>© 2025 함께 쓰는 수필. 모든 글의 저작권은 각 작가에게 있습니다.</p>'
            '<p><a href="/about">이용약관</a> · <a href="/about">개인정보처리방침</a> · 문의 hello@example.com</p>'
            "</footer></body></html>"
        )

    def _article(self, post: Post, charset: str | None) -> str:
        tag_meta = "".join(f'<meta property="article:tag" content="{html.escape(t)}">' for t in post.tags)
        head = (
            f'<meta property="og:title" content="{html.escape(post.title)}">'
            f'<meta name="author" content="{html.escape(post.author)}">'
            f'<meta property="article:published_time" content="{post.date}">{tag_meta}'
        )
        body = "".join(f"<p>{html.escape(p)}</p>" for p in post.paragraphs)
        tags = " ".join(f'<a href="{quote("/tags/" + t)}">#{html.escape(t)}</a>' for t in post.tags)
        related = [p for p in self.posts if p.id != post.id and set(p.tags) & set(post.tags) - {ALL_TAG}][:3]
        related_html = "".join(
            f'<li><a href="/posts/{p.id}">{html.escape(p.title)}</a></li>' for p in related
        )
        main = (
            '<article class="post">'
            f'<h1 class="post-title">{html.escape(post.title)}</h1>'
            f'<div class="post-meta"><a class="author" href="/authors/{post.author_slug}">{html.escape(post.author)}</a>'
            f' · <time datetime="{post.date}">{_korean_date(post.date)}</time> · 읽는 데 3분</div>'
            f'<div class="post-body">{body}</div>'
            f'<div class="post-tags">{tags}</div></article>'
            '<div class="share">이 글이 좋았다면 공유해 주세요 · 좋아요 12 · 구독하기</div>'
            f'<section class="related"><h2>함께 읽으면 좋은 글</h2><ul>{related_html}</ul></section>'
            '<section class="comments"><h2>댓글 0</h2><p>로그인하고 첫 댓글을 남겨 보세요.</p></section>'
        )
        return self._page(post.title, main, head=head, charset=charset)

    def _listing(self, title: str, posts: list[Post], base: str, page: int) -> str:
        pages = max(1, -(-len(posts) // self.page_size))
        chunk = posts[(page - 1) * self.page_size : page * self.page_size]
        items = "".join(
            f'<li class="card"><a href="/posts/{p.id}"><h2>{html.escape(p.title)}</h2></a>'
            f"<p>{html.escape(p.paragraphs[0][:80])}…</p><span>{html.escape(p.author)} · {p.date}</span></li>"
            for p in chunk
        )
        window = sorted({1, pages, *range(max(1, page - 5), min(pages, page + 5) + 1)})
        links = " ".join(
            f"<strong>{n}</strong>" if n == page else f'<a href="{base}?page={n}">{n}</a>' for n in window
        )
        nav = f'<nav class="pagination">{links}</nav>' if pages > 1 else ""
        return self._page(title, f'<h1>{html.escape(title)}</h1><ul class="cards">{items}</ul>{nav}')

    # ---- routing ---------------------------------------------------------------------------

    def _render(self, path: str, page: int) -> tuple[int, str, bytes]:
        """(status, content type, body) for a path; page is the ?page= number for listings."""
        parts = [p for p in path.split("/") if p]
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", b"User-agent: *\nDisallow: /private/\n"
        if not parts:
            return self._html(self._listing("최근 글", self.posts[::-1], "/", page))
        if parts[0] == "tags" and len(parts) == 2 and parts[1] in self.tags:
            tag = parts[1]
            return self._html(self._listing(f"#{tag}", self.tags[tag][::-1], quote(f"/tags/{tag}"), page))
        if parts[0] == "authors" and len(parts) == 2 and parts[1] in self.authors:
            posts = self.authors[parts[1]][::-1]
            return self._html(self._listing(f"{posts[0].author}의 글", posts, f"/authors/{parts[1]}", page))
        if len(parts) == 2 and parts[0] == "posts" and parts[1].isdigit() and int(parts[1]) in self.by_id:
            post = self.by_id[int(parts[1])]
            if post.id in self.encodings:
                encoding, content_type, declare = self.encodings[post.id]
                text = self._article(post, encoding if declare else None)
                return 200, content_type, text.encode(encoding, errors="xmlcharrefreplace")
            return self._html(self._article(post, "utf-8"))
        if parts[:2] == ["best", "posts"] and len(parts) == 3 and parts[2] == str(self.featured):
            post = self.by_id.get(self.featured)
            if post is not None:
                return self._html(self._article(post, "utf-8"))
        if (
            parts[:2] == ["private", "posts"]
            and len(parts) == 3
            and parts[2].isdigit()
            and int(parts[2]) in DRAFTS
        ):
            note = DRAFTS[int(parts[2])]
            return self._html(
                self._page(
                    "작성 중", f'<article class="post"><div class="post-body"><p>{note}</p></div></article>'
                )
            )
        if parts == ["about"] or parts == ["login"]:
            return self._html(
                self._page("소개", "<p>함께 쓰는 수필은 누구나 글을 올리는 작은 블로그입니다.</p>")
            )
        if parts == ["api", "posts"]:
            chunk = self.posts[(page - 1) * self.page_size : page * self.page_size]
            data = {
                "data": {"posts": [{"id": p.id, "title": p.title, "path": f"/posts/{p.id}"} for p in chunk]},
                "page": page,
                "has_more": page * self.page_size < len(self.posts),
            }
            return 200, "application/json", json.dumps(data, ensure_ascii=False).encode("utf-8")
        return (
            404,
            "text/html; charset=utf-8",
            self._page("없는 페이지", "<p>페이지를 찾을 수 없습니다.</p>").encode(),
        )

    @staticmethod
    def _html(text: str) -> tuple[int, str, bytes]:
        return 200, "text/html; charset=utf-8", text.encode("utf-8")


def _korean_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{int(year)}년 {int(month)}월 {int(day)}일"


def load_essays(path: Path = ESSAYS) -> list[Post]:
    """The bundled essays (examples/demo-site/essays.toml)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    posts = []
    for entry in data["essays"]:
        paragraphs = [" ".join(p.split()) for p in entry["body"].strip().split("\n\n") if p.strip()]
        posts.append(
            Post(
                id=int(entry["id"]),
                title=entry["title"],
                author=entry["author"],
                date=entry["date"],
                tags=list(entry["tags"]),
                paragraphs=paragraphs,
                author_slug=AUTHOR_SLUGS.get(entry["author"], f"author-{len(posts)}"),
            )
        )
    return posts


def load_corpus(path: Path) -> list[Post]:
    """Posts from a corpus JSON Lines file (plain or .zst): title, author, tags and text of each record."""
    raw = Path(path).read_bytes()
    if raw[:4] == b"\x28\xb5\x2f\xfd":  # zstd magic
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True).read()
    posts: list[Post] = []
    slugs: dict[str, str] = {}
    start = date(2020, 1, 1)
    for line in raw.decode("utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        paragraphs = [" ".join(p.split()) for p in str(record.get("text", "")).split("\n") if p.strip()]
        if not paragraphs:
            continue
        number = len(posts) + 1
        author = str(record.get("author") or "작자 미상")
        slug = slugs.setdefault(author, f"author-{len(slugs) + 1}")
        tags = [str(t) for t in record.get("tags") or []]
        posts.append(
            Post(
                id=number,
                title=str(record.get("title") or f"글 {number}"),
                author=author,
                date=str(record.get("published") or (start + timedelta(days=number)).isoformat())[:10],
                tags=[ALL_TAG, *[t for t in tags if t != ALL_TAG]],
                paragraphs=paragraphs,
                author_slug=slug,
            )
        )
    if not posts:
        raise ValueError(f"{path}: no records with text")
    return posts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as crawlers expect
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add ~40 ms
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self.server.hits.append(path)
        try:
            page = max(1, int(parse_qs(parts.query).get("page", ["1"])[0]))
        except ValueError:
            page = 1
        status, content_type, body = self.server.site.render(path, page)
        if self.server.site.delay and path.startswith("/posts/"):
            time.sleep(self.server.site.delay)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        super().__init__(address, _Handler)
        self.site = site
        self.hits: list[str] = []


class DemoSite:
    """A running demo site: .url, .start_url, .hits (request paths, in order) and .stop()."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.port = int(port)
        self.url = f"http://{host}:{self.port}"
        self.start_url = f"{self.url}{quote('/tags/' + ALL_TAG)}"
        self.site = server.site

    @property
    def hits(self) -> list[str]:
        """Every request path served so far (percent-decoded)."""
        return self._server.hits

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> DemoSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_demo_site(
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    corpus: Path | None = None,
    page_size: int | None = None,
    delay: float = 0.0,
) -> DemoSite:
    """Serve the demo site (or a corpus as such a site) from a background thread; port 0 picks one."""
    if corpus is None:
        site = Site(load_essays(), page_size=page_size or 10, encodings=dict(ENCODINGS), delay=delay)
    else:
        site = Site(load_corpus(corpus), page_size=page_size or 20, featured=1, delay=delay)
    server = _Server((host, port), site)
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    handle = DemoSite(server, thread)
    logger.info("demo site with %d posts at %s", len(site.posts), handle.url)
    return handle

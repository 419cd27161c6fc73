"""The essay spider parsing saved pages (no network): one assertion per field."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from services.crawler.profiles import BUILTINS, Profile
from services.crawler.scrapy_project.items import EssayPage
from services.crawler.scrapy_project.middlewares import KoreanDecodingMiddleware
from services.crawler.scrapy_project.spiders.essay import EssaySpider

PAGES = Path(__file__).parent / "pages"
BASE = "http://essays.example"
BY_SELECTORS = replace(BUILTINS["demo"], start_urls=(f"{BASE}/tags/수필",))
BY_TRAFILATURA = Profile(
    name="plain",
    start_urls=(f"{BASE}/tags/수필",),
    article_pattern=r"/posts/\d+$",
    follow_pattern=r"/tags/|[?&]page=",
)


def spider(profile: Profile) -> EssaySpider:
    crawler = get_crawler(EssaySpider)
    return EssaySpider.from_crawler(crawler, profiles=[profile])


def response(name: str, path: str, content_type: str, kind: str = "article") -> HtmlResponse:
    request = Request(BASE + path, meta={"site": 0, "kind": kind, "d": 0})
    raw = HtmlResponse(
        BASE + path, body=(PAGES / name).read_bytes(), headers={"Content-Type": content_type}, request=request
    )
    decoded = KoreanDecodingMiddleware().process_response(request, raw)
    assert isinstance(decoded, HtmlResponse)
    return decoded


def parse_item(profile: Profile, name: str, path: str, content_type: str) -> EssayPage:
    items = [x for x in spider(profile).parse(response(name, path, content_type)) if isinstance(x, EssayPage)]
    assert len(items) == 1
    return items[0]


@pytest.fixture(scope="module", params=["selectors", "trafilatura"])
def essay_3(request: pytest.FixtureRequest) -> EssayPage:
    profile = BY_SELECTORS if request.param == "selectors" else BY_TRAFILATURA
    return parse_item(profile, "essay-3.html", "/posts/3", "text/html; charset=utf-8")


def test_url(essay_3: EssayPage) -> None:
    assert essay_3.url == f"{BASE}/posts/3"


def test_source(essay_3: EssayPage) -> None:
    assert essay_3.source in ("demo", "plain")


def test_title(essay_3: EssayPage) -> None:
    assert essay_3.title == "오래된 우산"


def test_author(essay_3: EssayPage) -> None:
    assert essay_3.author == "박하늘"


def test_published(essay_3: EssayPage) -> None:
    assert essay_3.published == "2025-03-16"


def test_tags(essay_3: EssayPage) -> None:
    assert essay_3.tags == ["수필", "추억", "가족"]


def test_paragraphs_kept_one_per_line(essay_3: EssayPage) -> None:
    assert len(essay_3.text.split("\n")) == 5


def test_text_starts_with_the_body(essay_3: EssayPage) -> None:
    assert essay_3.text.startswith("현관 구석에 살이 하나 부러진 검은 우산이 있다.")


@pytest.mark.parametrize("boilerplate", ["광고", "댓글", "©", "함께 읽으면 좋은 글", "뉴스레터", "로그인"])
def test_boilerplate_gone(essay_3: EssayPage, boilerplate: str) -> None:
    assert boilerplate not in essay_3.text


def test_status(essay_3: EssayPage) -> None:
    assert essay_3.status == 200


def test_content_hash_ignores_whitespace(essay_3: EssayPage) -> None:
    from services.crawler.extract import content_hash

    assert essay_3.content_hash == content_hash(essay_3.text.replace("\n", "\n\n  "))


def test_euc_kr_page_without_any_charset_decodes() -> None:
    item = parse_item(BY_SELECTORS, "essay-12-euc-kr.html", "/posts/12", "text/html")
    assert item.text.startswith("열여섯 해를 함께 산 고양이가 떠났다.")


def test_cp949_page_under_an_euc_kr_header_decodes() -> None:
    item = parse_item(BY_SELECTORS, "essay-21-cp949.html", "/posts/21", "text/html; charset=euc-kr")
    assert "똠얌꿍" in item.text


def test_cp949_page_under_a_lying_utf8_header_decodes() -> None:
    item = parse_item(BY_SELECTORS, "essay-21-cp949.html", "/posts/21", "text/html; charset=utf-8")
    assert item.title == "방콕의 국수 한 그릇"


def test_listing_follows_articles_and_pagination_but_not_drafts_offsite_or_other_pages() -> None:
    requests = list(
        spider(BY_SELECTORS).parse(response("tag-listing.html", "/tags/수필", "text/html", kind="page"))
    )
    urls = {r.url for r in requests}
    assert {f"{BASE}/posts/{n}" for n in (30, 21)} <= urls
    assert any(re.search(r"[?&]page=2", u) for u in urls)
    assert f"{BASE}/private/posts/901" in urls  # matches the article pattern: robots.txt decides
    assert not any(u.endswith(("/about", "/login", "/")) for u in urls)

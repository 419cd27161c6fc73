"""The bundled demo site: its essays, its pages over real HTTP, corpus mode and `supil demo-site`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.crawler.demo_site import DemoSite, load_essays, start_demo_site

REPO = Path(__file__).resolve().parents[2]
THEMES = ("함께", "희망", "우울", "불안", "죽음과 공존", "자아", "추억")


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with start_demo_site(0) as s:
        yield s


def test_at_least_30_essays_of_600_characters_in_paragraphs() -> None:
    essays = load_essays()
    assert len(essays) >= 30
    assert len({e.id for e in essays}) == len(essays)
    for essay in essays:
        assert len("".join(essay.paragraphs)) >= 600, essay.title
        assert len(essay.paragraphs) >= 3, essay.title
        assert essay.title and essay.author and essay.date and essay.tags


def test_essays_cover_the_themes() -> None:
    tags = [t for e in load_essays() for t in e.tags]
    for theme in THEMES:
        assert tags.count(theme) >= 2, theme


def test_tag_listing_paginates(site: DemoSite) -> None:
    status, _, body = get(site.start_url)
    assert status == 200
    assert b"?page=3" in body
    status, _, page3 = get(site.start_url + "?page=3")
    assert status == 200 and b'/posts/1"' in page3


def test_robots_txt_disallows_the_private_section(site: DemoSite) -> None:
    assert get(site.url + "/robots.txt")[2] == b"User-agent: *\nDisallow: /private/\n"


def test_one_page_is_euc_kr_without_a_charset(site: DemoSite) -> None:
    status, content_type, body = get(site.url + "/posts/12")
    assert (status, content_type) == (200, "text/html")
    assert "고양이가 떠난 자리" in body.decode("euc-kr")


def test_the_featured_essay_has_a_second_url(site: DemoSite) -> None:
    assert get(site.url + "/best/posts/5")[2] == get(site.url + "/posts/5")[2]


def test_author_page_lists_the_authors_essays(site: DemoSite) -> None:
    status, _, body = get(site.url + "/authors/park-haneul")
    assert status == 200 and "오래된 우산" in body.decode()


def test_json_listing_api(site: DemoSite) -> None:
    data = json.loads(get(site.url + "/api/posts?page=1")[2])
    assert data["data"]["posts"][0]["path"] == "/posts/1" and data["has_more"]


def test_unknown_page_is_404(site: DemoSite) -> None:
    assert get(site.url + "/posts/999")[0] == 404


def test_a_corpus_file_is_published_as_a_site(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    records = [
        {"title": f"제목 {i}", "author": "작가", "text": f"첫 문단 {i}.\n둘째 문단."} for i in range(45)
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    with start_demo_site(0, corpus=corpus) as s:
        assert len(s.site.posts) == 45
        assert "<p>둘째 문단.</p>" in get(s.url + "/posts/45")[2].decode()
        assert b"?page=3" in get(s.start_url)[2]  # 20 per page


def test_supil_demo_site_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "supil.cli", "demo-site", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, COLUMNS="200", NO_COLOR="1"),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[2]
        assert get(url + "/robots.txt")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0

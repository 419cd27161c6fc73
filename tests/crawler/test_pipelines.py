"""Item pipelines and the journal: validation, canonical URLs, duplicates, durable writes."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from services.crawler.extract import content_hash
from services.crawler.profiles import BUILTINS, Profile
from services.crawler.scrapy_project.items import EssayPage
from services.crawler.scrapy_project.journal import Journal, compile_corpus
from services.crawler.scrapy_project.pipelines import (
    CanonicalUrlPipeline,
    CorpusPipeline,
    DuplicatePipeline,
    ValidatePipeline,
)
from services.crawler.scrapy_project.plan import CrawlPlan
from services.crawler.scrapy_project.spiders.essay import EssaySpider
from services.crawler.urls import canonical_url
from services.runtime import ArtifactStore, read_corpus

TEXT = "함께 걷는 저녁은 서로의 속도를 배우는 일이었다. " * 10


def plan(tmp_path: Path, *profiles: Profile) -> CrawlPlan:
    return CrawlPlan(
        job_id="j1",
        workspace=str(tmp_path / "ws"),
        output="raw.jsonl.zst",
        workdir=str(tmp_path / "work"),
        profiles=[
            p.to_dict() for p in profiles or (Profile(name="site", start_urls=("http://a.example/",)),)
        ],
    )


def crawler_for(p: CrawlPlan):  # type: ignore[no-untyped-def]
    return get_crawler(EssaySpider, {"SUPIL_PLAN": asdict(p)})


def page(url: str, text: str = TEXT, **fields: object) -> EssayPage:
    values: dict = {
        "url": url,
        "source": "site",
        "text": text,
        "status": 200,
        "content_hash": content_hash(text),
    }
    values.update(fields)
    return EssayPage(**values)


def test_canonical_url_drops_tracking_fragment_default_port_and_sorts_query() -> None:
    assert canonical_url("HTTP://A.Example:80/p?b=2&utm_source=x&a=1#top") == "http://a.example/p?a=1&b=2"


def test_same_canonical_url_is_a_duplicate(tmp_path: Path) -> None:
    crawler = crawler_for(plan(tmp_path))
    canon, dupes = CanonicalUrlPipeline(), DuplicatePipeline(crawler)
    dupes.process_item(canon.process_item(page("http://a.example/posts/1")))
    with pytest.raises(DropItem, match="canonical URL"):
        dupes.process_item(
            canon.process_item(page("http://a.example/posts/1?utm_source=feed", text=TEXT + "!"))
        )


def test_same_text_under_another_url_is_a_duplicate(tmp_path: Path) -> None:
    dupes = DuplicatePipeline(crawler_for(plan(tmp_path)))
    dupes.process_item(page("http://a.example/posts/1", canonical_url="http://a.example/posts/1"))
    with pytest.raises(DropItem, match="same text"):
        dupes.process_item(page("http://a.example/best/1", canonical_url="http://a.example/best/1"))


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (page("http://a.example/1", status=404), "status 404"),
        (page("http://a.example/1", text=" "), "no text"),
        (page("http://a.example/1", text="짧다"), "shorter"),
    ],
)
def test_validation_drops_what_is_not_an_article(tmp_path: Path, item: EssayPage, reason: str) -> None:
    with pytest.raises(DropItem, match=reason):
        ValidatePipeline(crawler_for(plan(tmp_path))).process_item(item)


def test_generic_profile_keeps_only_korean_prose(tmp_path: Path) -> None:
    generic = replace(BUILTINS["generic"], name="site", start_urls=("http://a.example/",))
    validate = ValidatePipeline(crawler_for(plan(tmp_path, generic)))
    assert validate.process_item(page("http://a.example/ko", text=TEXT * 2)).text == TEXT * 2
    with pytest.raises(DropItem, match="Hangul ratio"):
        validate.process_item(
            page("http://a.example/en", text="An English page about walking together. " * 20)
        )


def test_corpus_pipeline_journals_each_item_and_compiles_the_artifact(tmp_path: Path) -> None:
    p = plan(tmp_path)
    crawler = crawler_for(p)
    corpus = CorpusPipeline(crawler)
    corpus.process_item(
        page("http://a.example/posts/1", canonical_url="http://a.example/posts/1", title="저녁")
    )
    # Durable before the crawl ends: a killed process loses nothing it wrote.
    assert len(Journal(p.journal).read().docs) == 1
    corpus.close_spider()
    corpus.spider_closed(None, "finished")
    store = ArtifactStore(p.workspace)
    docs = list(read_corpus(store, "raw.jsonl.zst"))
    assert [(d.title, d.source, d.text) for d in docs] == [("저녁", "site", TEXT)]
    assert store.entry("raw.jsonl.zst").records == 1


def test_journal_ignores_a_torn_last_line(tmp_path: Path) -> None:
    p = plan(tmp_path)
    corpus = CorpusPipeline(crawler_for(p))
    corpus.process_item(page("http://a.example/posts/1", canonical_url="http://a.example/posts/1"))
    corpus.close_spider()
    with p.journal.open("a", encoding="utf-8") as fh:
        fh.write('{"k": "doc", "canonical": "http://a.exa')
    entry = compile_corpus(ArtifactStore(p.workspace), p.journal, "raw.jsonl.zst", "j1")
    assert entry.records == 1

"""Crawls of the demo site over HTTP through the real gRPC crawler service."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest

from services.crawler.demo_site import DemoSite, load_essays, start_demo_site
from services.crawler.server import create_server
from services.runtime import ArtifactStore, Document, read_corpus
from supil.client import follow_job, open_channel
from supil.v1 import crawler_pb2, crawler_pb2_grpc, jobs_pb2, jobs_pb2_grpc
from tests.conftest import loopback_config

State = jobs_pb2.Job.State
ESSAYS = {post.id: post for post in load_essays()}
OUTPUT = "corpora/raw.jsonl.zst"


def spec_profile(site: DemoSite, **politeness: object) -> crawler_pb2.SiteProfile:
    """The profile of examples/demo.toml (no selectors: trafilatura extracts), pointed at site."""
    profile = crawler_pb2.SiteProfile(
        name="demo",
        start_urls=[site.start_url],
        article_pattern=r"/posts/\d+$",
        follow_pattern=r"/tags/|[?&]page=",
        allow_private=True,
    )
    profile.politeness.download_delay_seconds = 0
    for key, value in politeness.items():
        setattr(profile.politeness, key, value)
    return profile


@dataclass
class Crawl:
    """What one crawl job left behind."""

    job: jobs_pb2.Job
    events: list[jobs_pb2.JobEvent]
    docs: list[Document] = field(default_factory=list)

    def refused(self) -> dict[str, str]:
        out = {}
        for event in self.events:
            if event.kind == jobs_pb2.JobEvent.KIND_RECORD and event.detail.Is(
                crawler_pb2.RefusedUrl.DESCRIPTOR
            ):
                refusal = crawler_pb2.RefusedUrl()
                event.detail.Unpack(refusal)
                out[refusal.url] = refusal.reason
        return out


class CrawlerHarness:
    """A crawler server in a workspace, and helpers to run crawl jobs on it."""

    def __init__(self, workspace: Path) -> None:
        self.store = ArtifactStore(workspace)
        self.server, port = create_server(loopback_config("crawler", workspace), store=self.store)
        self.server.start()
        self.channel = open_channel(f"127.0.0.1:{port}")
        self.stub = crawler_pb2_grpc.CrawlerServiceStub(self.channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)

    def submit(
        self, job_id: str, *sites: crawler_pb2.SiteProfile, http_cache: bool = False
    ) -> crawler_pb2.CreateCrawlJobRequest:
        request = crawler_pb2.CreateCrawlJobRequest(
            job_id=job_id, sites=sites, output=OUTPUT, http_cache=http_cache
        )
        self.stub.CreateCrawlJob(request, timeout=10)
        return request

    def follow(
        self, job_id: str, on_event: Callable[[jobs_pb2.JobEvent], None] | None = None, after: int = 0
    ) -> Crawl:
        events: list[jobs_pb2.JobEvent] = []

        def seen(event: jobs_pb2.JobEvent) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        job = follow_job(self.channel, job_id, seen, after_sequence=after)
        crawl = Crawl(job, events)
        if any(o.name == OUTPUT for o in job.outputs):
            crawl.docs = list(read_corpus(self.store, OUTPUT))
        return crawl

    def crawl(self, job_id: str, *sites: crawler_pb2.SiteProfile, http_cache: bool = False) -> Crawl:
        self.submit(job_id, *sites, http_cache=http_cache)
        return self.follow(job_id)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(1.0)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[CrawlerHarness]:
    h = CrawlerHarness(tmp_path / "ws")
    yield h
    h.close()


@pytest.fixture
def site() -> Iterator[DemoSite]:
    with start_demo_site(0) as s:
        yield s


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Crawl, DemoSite]]:
    """One crawl of the whole demo site with the demo spec's profile, shared by the tests below."""
    h = CrawlerHarness(tmp_path_factory.mktemp("demo") / "ws")
    with start_demo_site(0) as s:
        yield h.crawl("demo-crawl", spec_profile(s)), s
    h.close()


def _by_id(docs: list[Document]) -> dict[int, Document]:
    return {int(re.search(r"/posts/(\d+)$", d.url).group(1)): d for d in docs}  # type: ignore[union-attr]


def test_demo_crawl_succeeds_and_names_its_corpus(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    assert crawl.job.state == State.STATE_SUCCEEDED, crawl.job.error
    assert [(o.name, o.role, o.records) for o in crawl.job.outputs] == [(OUTPUT, "corpus", 30)]


def test_every_essay_found_once(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    assert sorted(d.title for d in crawl.docs) == sorted(p.title for p in ESSAYS.values())


def test_text_is_the_essay_body_only_with_its_paragraphs(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    for number, doc in _by_id(crawl.docs).items():
        assert doc.text == "\n".join(ESSAYS[number].paragraphs), doc.url


def test_metadata_comes_from_the_page(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    doc = _by_id(crawl.docs)[7]
    assert (doc.author, doc.published, doc.tags, doc.source) == (
        "박하늘",
        "2025-04-13",
        ["수필", "죽음과 공존", "가족"],
        "demo",
    )


def test_robots_disallowed_pages_are_not_fetched_and_are_reported(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, site = demo_crawl
    assert not [h for h in site.hits if h.startswith("/private/")]
    refused = crawl.refused()
    assert {urlsplit(u).path for u in refused} == {"/private/posts/901", "/private/posts/902"}
    assert all("robots.txt" in reason for reason in refused.values())


def test_euc_kr_and_cp949_pages_decoded(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    docs = _by_id(crawl.docs)
    assert docs[12].text == "\n".join(ESSAYS[12].paragraphs)
    assert "똠얌꿍" in docs[21].text


def test_the_essay_under_two_urls_is_kept_once(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, site = demo_crawl
    assert "/best/posts/5" in site.hits and "/posts/5" in site.hits
    assert [d.title for d in crawl.docs].count(ESSAYS[5].title) == 1
    assert crawl.job.metrics["duplicates"] == 1


def test_progress_reports_pages_documents_and_bytes(demo_crawl: tuple[Crawl, DemoSite]) -> None:
    crawl, _ = demo_crawl
    last = [e for e in crawl.events if e.kind == jobs_pb2.JobEvent.KIND_PROGRESS][-1].job.progress
    assert last.unit == "pages"
    assert last.done == last.counters["pages"] >= 31
    assert last.counters["kept"] == 30
    assert last.counters["bytes"] > 100_000


def test_json_listing_endpoint_is_paged_through(harness: CrawlerHarness, site: DemoSite) -> None:
    # No start URL and no follow pattern: the JSON listing alone finds the articles.
    profile = crawler_pb2.SiteProfile(name="api", article_pattern=r"/posts/\d+$", allow_private=True)
    profile.json_listings.add(
        url_template=f"{site.url}/api/posts?page={{page}}", items_path="data.posts", url_field="path"
    )
    crawl = harness.crawl("api-crawl", profile)
    assert crawl.job.state == State.STATE_SUCCEEDED, crawl.job.error
    assert len({d.title for d in crawl.docs}) == 30
    assert not [h for h in site.hits if h.startswith("/tags/")]


def test_cancel_stops_the_crawl_and_keeps_a_partial_corpus(harness: CrawlerHarness, site: DemoSite) -> None:
    site.site.delay = 0.2
    profile = spec_profile(site, concurrent_requests_per_domain=1, autothrottle=False)

    def cancel_after_two(event: jobs_pb2.JobEvent) -> None:
        if event.job.progress.counters["kept"] >= 2 and event.job.state == State.STATE_RUNNING:
            harness.jobs.CancelJob(jobs_pb2.CancelJobRequest(job_id="slow"))

    harness.submit("slow", profile)
    crawl = harness.follow("slow", cancel_after_two)
    assert crawl.job.state == State.STATE_CANCELLED
    assert crawl.job.partial
    assert 2 <= len(crawl.docs) < 30
    assert crawl.job.outputs[0].records == len(crawl.docs)


def test_killed_crawl_resumes_without_fetching_what_it_has(harness: CrawlerHarness, site: DemoSite) -> None:
    site.site.delay = 0.1
    profile = spec_profile(site, concurrent_requests_per_domain=1, autothrottle=False)
    killed: list[int] = []

    def kill_after_three(event: jobs_pb2.JobEvent) -> None:
        match = re.search(r"crawl process started \(pid (\d+)\)", event.message)
        if match:
            killed.append(-int(match.group(1)))  # remembered; killed once it has kept three documents
        if killed and killed[-1] < 0 and event.job.progress.counters["kept"] >= 3:
            pid = -killed.pop()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    request = harness.submit("resumable", profile)
    first = harness.follow("resumable", kill_after_three)
    assert killed and killed[-1] > 0, "the crawl process was killed"
    assert first.job.state == State.STATE_FAILED
    assert first.job.partial
    kept_first = {urlsplit(d.url).path for d in first.docs}
    assert len(kept_first) >= 3
    hits_before = len(site.hits)

    harness.stub.CreateCrawlJob(request, timeout=10)  # same job_id, same request: attempt 2
    second = harness.follow("resumable", after=first.events[-1].sequence)
    assert second.job.state == State.STATE_SUCCEEDED, second.job.error
    assert second.job.attempt == 2
    assert sorted(d.title for d in second.docs) == sorted(p.title for p in ESSAYS.values())
    fetched_again = set(site.hits[hits_before:]) & kept_first
    assert not fetched_again


def test_ssrf_refusals_are_reported_per_url(harness: CrawlerHarness, site: DemoSite) -> None:
    urls = ["http://10.0.0.1/", "file:///etc/passwd", f"http://localhost:{site.port}/tags/x"]
    profile = crawler_pb2.SiteProfile(name="unsafe", start_urls=urls)
    crawl = harness.crawl("unsafe", profile)
    refused = crawl.refused()
    assert set(refused) == set(urls)
    assert "private" in refused["http://10.0.0.1/"]
    assert "scheme 'file'" in refused["file:///etc/passwd"]
    assert "loopback" in refused[urls[2]]
    assert site.hits == []
    assert crawl.job.state == State.STATE_FAILED
    assert "kept no documents" in crawl.job.error


@pytest.mark.parametrize(
    ("change", "field_named"),
    [
        (lambda p: setattr(p, "article_pattern", "(unclosed"), "sites[0].article_pattern"),
        (lambda p: setattr(p, "follow_pattern", "[z-a]"), "sites[0].follow_pattern"),
        (lambda p: p.ClearField("start_urls"), "sites[0].start_urls"),
        (lambda p: setattr(p, "builtin", "brunch-2021"), "sites[0].builtin"),
        (lambda p: setattr(p.selectors, "body", "div >>> p"), "sites[0].selectors.body"),
        (lambda p: p.start_urls.append("not a url"), "sites[0].start_urls[1]"),
        (
            lambda p: p.json_listings.add(url_template="http://x/api", url_field="u"),
            "json_listings[0].url_template",
        ),
        (
            lambda p: setattr(p.politeness, "concurrent_requests_per_domain", 0),
            "politeness.concurrent_requests",
        ),
    ],
)
def test_bad_profiles_are_invalid_argument_naming_the_field(
    harness: CrawlerHarness, change: Callable[[crawler_pb2.SiteProfile], None], field_named: str
) -> None:
    profile = crawler_pb2.SiteProfile(name="bad", start_urls=["http://example.com/"])
    change(profile)
    with pytest.raises(grpc.RpcError) as caught:
        harness.submit("bad-profile", profile)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_named in caught.value.details()


def test_no_sites_and_bad_output_are_invalid_argument(harness: CrawlerHarness) -> None:
    for request, field_named in [
        (crawler_pb2.CreateCrawlJobRequest(job_id="x"), "sites"),
        (
            crawler_pb2.CreateCrawlJobRequest(
                job_id="x",
                output="../escape.zst",
                sites=[crawler_pb2.SiteProfile(name="a", start_urls=["http://a/"])],
            ),
            "output",
        ),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            harness.stub.CreateCrawlJob(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith(field_named)


def test_http_cache_serves_a_second_crawl_without_fetching(harness: CrawlerHarness, site: DemoSite) -> None:
    first = harness.crawl("cached-1", spec_profile(site), http_cache=True)
    assert first.job.state == State.STATE_SUCCEEDED, first.job.error
    fetched = len(site.hits)
    assert len([h for h in site.hits if re.search(r"/posts/\d+$", h)]) >= 30
    assert (harness.store.root / ".supil" / "crawler" / "httpcache").is_dir()

    second = harness.crawl("cached-2", spec_profile(site), http_cache=True)
    assert second.job.state == State.STATE_SUCCEEDED, second.job.error
    # Every page (robots.txt, listings, articles) came from the workspace's cache, none from the site.
    assert site.hits[fetched:] == []
    assert sorted((d.url, d.text) for d in second.docs) == sorted((d.url, d.text) for d in first.docs)


def test_without_http_cache_a_second_crawl_fetches_again(harness: CrawlerHarness, site: DemoSite) -> None:
    assert harness.crawl("plain-1", spec_profile(site)).job.state == State.STATE_SUCCEEDED
    fetched = len(site.hits)
    assert harness.crawl("plain-2", spec_profile(site)).job.state == State.STATE_SUCCEEDED
    assert len([h for h in site.hits[fetched:] if re.search(r"/posts/\d+$", h)]) >= 30

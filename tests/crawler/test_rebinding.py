"""DNS rebinding: a host whose answer turns private after the safety check is still not connected to."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.crawler.demo_site import DemoSite, start_demo_site
from services.crawler.profiles import Politeness, Profile
from services.crawler.scrapy_project.plan import CrawlPlan, crawl_settings
from services.crawler.scrapy_project.resolver import host_in

REPO = Path(__file__).resolve().parents[2]

# A real Scrapy crawl in its own process (Twisted's reactor runs once per process). Only the safety
# middleware's resolver is replaced: it is told the host is public, as a rebinding DNS server would
# first answer; the connection then resolves the host for real (localhost: loopback).
CRAWL = """
import json, sys
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from services.crawler.safety import UrlGuard
from services.crawler.scrapy_project import middlewares
from services.crawler.scrapy_project.plan import CrawlPlan, crawl_settings
from services.crawler.scrapy_project.signals import url_refused
from services.crawler.scrapy_project.spiders.essay import EssaySpider

middlewares.UrlGuard = lambda: UrlGuard(resolver=lambda host: ["93.184.215.14"])
settings = Settings()
settings.setdict(crawl_settings(CrawlPlan(**json.loads(sys.argv[1]))), priority="cmdline")
process = CrawlerProcess(settings)
crawler = process.create_crawler(EssaySpider)
refused = []
crawler.signals.connect(lambda url, reason: refused.append((url, reason)), signal=url_refused, weak=False)
process.crawl(crawler)
process.start()
print(json.dumps(refused))
"""


@pytest.fixture
def site() -> Iterator[DemoSite]:
    with start_demo_site(0) as s:
        yield s


def crawl(tmp_path: Path, site: DemoSite, *, allow_private: bool) -> list[list[str]]:
    start = site.start_url.replace("127.0.0.1", "localhost")
    profile = Profile(
        name="rebind",
        start_urls=(start,),
        article_pattern=r"/posts/\d+$",
        follow_pattern=r"/tags/",
        allow_private=allow_private,
        max_pages=5,
        politeness=Politeness(download_delay=0, retry_times=0, autothrottle=False),
    )
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    plan = CrawlPlan(
        job_id="rebind",
        workspace=str(tmp_path),
        output="raw.jsonl.zst",
        workdir=str(workdir),
        profiles=[profile.to_dict()],
    )
    done = subprocess.run(
        [sys.executable, "-c", CRAWL, json.dumps(plan.__dict__)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_host_rebinding_to_loopback_is_refused_at_connect_time(tmp_path: Path, site: DemoSite) -> None:
    refused = crawl(tmp_path, site, allow_private=False)
    assert site.hits == []  # not even robots.txt reached the loopback server
    assert refused, "the refusal must be reported"
    assert all("loopback address 127.0.0.1 when connecting" in reason for _, reason in refused)


def test_allow_private_still_reaches_the_host(tmp_path: Path, site: DemoSite) -> None:
    crawl(tmp_path, site, allow_private=True)
    assert any(h.startswith("/posts/") for h in site.hits)


def test_private_domains_come_from_sites_that_allow_them(tmp_path: Path) -> None:
    def plan(*profiles: Profile) -> CrawlPlan:
        return CrawlPlan("j", str(tmp_path), "o", str(tmp_path), [p.to_dict() for p in profiles])

    open_site = Profile(name="a", start_urls=("http://intranet.example/x",), allow_private=True)
    closed = Profile(name="b", start_urls=("https://blog.example.org/",))
    domains = tuple(crawl_settings(plan(open_site, closed))["SUPIL_PRIVATE_DOMAINS"])
    assert domains == ("intranet.example",)
    assert host_in("intranet.example", domains) and host_in("www.intranet.example", domains)
    assert not host_in("blog.example.org", domains) and not host_in("evilintranet.example", domains)

"""The crawl plan (profiles, workspace, output) and the Scrapy settings it implies."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.crawler.profiles import DEFAULT_USER_AGENT, Profile

PLAN_ENV = "SUPIL_CRAWL_PLAN"
PACKAGE = "services.crawler.scrapy_project"

# Settings every crawl shares; the plan adds politeness, the job folder and the cache.
BASE_SETTINGS: dict[str, Any] = {
    "BOT_NAME": "supil",
    "SPIDER_MODULES": [f"{PACKAGE}.spiders"],
    "NEWSPIDER_MODULE": f"{PACKAGE}.spiders",
    "USER_AGENT": DEFAULT_USER_AGENT,
    "ROBOTSTXT_OBEY": True,
    "CONCURRENT_REQUESTS": 32,
    # Scrapy starts this many asyncio workers per response to process its output; a page yields one
    # item and a few dozen requests, and 100 workers per page cost more CPU than the page itself.
    "CONCURRENT_ITEMS": 4,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "DOWNLOAD_DELAY": 0.25,
    "DOWNLOAD_DELAY_JITTER": 0.5,  # each delay is 0.5-1.5 times the configured one
    "LOG_FORMATTER": f"{PACKAGE}.logformatter.QuietDropsLogFormatter",
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 0,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "SUPIL_RETRY_BACKOFF_BASE": 1.0,  # seconds; doubles with each retry of a request
    "SUPIL_RETRY_BACKOFF_MAX": 30.0,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "DEPTH_LIMIT": 0,
    "LOG_LEVEL": "WARNING",
    "DUPEFILTER_CLASS": f"{PACKAGE}.middlewares.JournalDupeFilter",
    "DOWNLOADER_MIDDLEWARES": {
        f"{PACKAGE}.middlewares.SafetyMiddleware": 50,  # before robots.txt: refused hosts get no request at all
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        f"{PACKAGE}.middlewares.BackoffRetryMiddleware": 550,
        f"{PACKAGE}.middlewares.KoreanDecodingMiddleware": 580,  # after decompression (590)
    },
    "ITEM_PIPELINES": {
        f"{PACKAGE}.pipelines.ValidatePipeline": 100,
        f"{PACKAGE}.pipelines.CanonicalUrlPipeline": 200,
        f"{PACKAGE}.pipelines.DuplicatePipeline": 300,
        f"{PACKAGE}.pipelines.CorpusPipeline": 400,
    },
    "EXTENSIONS": {f"{PACKAGE}.extensions.CrawlReporter": 500},
    "HTTPCACHE_ENABLED": False,
    "HTTPCACHE_IGNORE_HTTP_CODES": [408, 429, 500, 502, 503, 504],
    # Checks the address every connection is made to (DNS rebinding); see resolver.py.
    "DNS_RESOLVER": f"{PACKAGE}.resolver.GuardedResolver",
}


@dataclass
class CrawlPlan:
    """Everything a crawl process needs: the profiles and where to write."""

    job_id: str
    workspace: str
    output: str
    workdir: str  # the job's folder in the workspace: journal, JOBDIR, marker files
    profiles: list[dict[str, Any]] = field(default_factory=list)
    http_cache: bool = False
    progress_fd: int = -1  # a multiprocessing Connection's descriptor in the crawl process, if any
    log_level: str = "WARNING"
    log_format: str = "auto"

    @property
    def journal(self) -> Path:
        """The crawl journal's path."""
        return Path(self.workdir) / "journal.jsonl"

    @property
    def result_path(self) -> Path:
        """Written by the crawl process once the corpus artifact is complete."""
        return Path(self.workdir) / "result.json"

    @property
    def jobdir(self) -> Path:
        """Scrapy's JOBDIR (request queue and spider state of a paused crawl)."""
        return Path(self.workdir) / "jobdir"

    def site_profiles(self) -> list[Profile]:
        """The plan's profiles."""
        return [Profile.from_dict(p) for p in self.profiles]

    def save(self, path: Path) -> None:
        """Write the plan as JSON."""
        Path(path).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> CrawlPlan:
        """Read a plan written by save."""
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def crawl_settings(plan: CrawlPlan) -> dict[str, Any]:
    """The Scrapy settings for a plan: base settings, per-site politeness, JOBDIR and cache."""
    profiles = plan.site_profiles()
    settings = dict(BASE_SETTINGS)
    polite = [p.politeness for p in profiles]
    settings["ROBOTSTXT_OBEY"] = any(p.obey_robots_txt for p in polite)
    # Scrapy's delay floor and AutoThrottle are crawl-wide; per-site values go into DOWNLOAD_SLOTS
    # (per-domain delay and concurrency) and request meta (robots.txt, timeout, size cap, retries).
    settings["DOWNLOAD_DELAY"] = min(p.download_delay for p in polite)
    settings["AUTOTHROTTLE_ENABLED"] = any(p.autothrottle for p in polite)
    settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = max(p.concurrency for p in polite)
    # The engine hands the downloader up to CONCURRENT_REQUESTS requests, which then wait in per-domain
    # queues; a stop waits for all of them. Matching the per-site sum keeps a cancel prompt.
    settings["CONCURRENT_REQUESTS"] = sum(p.concurrency for p in polite)
    slots: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        for domain in profile.domains():
            slots[domain] = {
                "concurrency": profile.politeness.concurrency,
                "delay": profile.politeness.download_delay,
            }
    settings["DOWNLOAD_SLOTS"] = slots
    settings["SUPIL_PRIVATE_DOMAINS"] = [d for p in profiles if p.allow_private for d in p.domains()]
    settings["JOBDIR"] = str(plan.jobdir)
    settings["HTTPCACHE_ENABLED"] = plan.http_cache
    settings["HTTPCACHE_DIR"] = str(Path(plan.workspace) / ".supil" / "crawler" / "httpcache")
    settings["LOG_LEVEL"] = plan.log_level
    settings["SUPIL_PLAN"] = asdict(plan)
    return settings


def settings_from_environment() -> dict[str, Any]:
    """For `scrapy crawl essay`: the plan named by SUPIL_CRAWL_PLAN, or just the base settings."""
    path = os.environ.get(PLAN_ENV)
    return crawl_settings(CrawlPlan.load(path)) if path else dict(BASE_SETTINGS)

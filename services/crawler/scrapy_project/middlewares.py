"""Downloader middlewares and the duplicate-request filter of the crawler's Scrapy project."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.dupefilters import BaseDupeFilter
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future

from services.crawler.extract import charset_from_content_type, decode_html
from services.crawler.safety import UrlGuard
from services.crawler.scrapy_project.journal import Journal
from services.crawler.scrapy_project.plan import CrawlPlan
from services.crawler.scrapy_project.resolver import GuardedResolver
from services.crawler.urls import canonical_url

logger = logging.getLogger(__name__)


class RefusedRequest(IgnoreRequest):
    """A request the safety rules refuse; its message is the reason."""


class SafetyMiddleware:
    """Refuses non-http(s) URLs and hosts on private/loopback/link-local/reserved addresses."""

    def __init__(self, crawler: Crawler, guard: UrlGuard | None = None) -> None:
        self.crawler = crawler
        self.guard = guard or UrlGuard()
        plan = CrawlPlan(**crawler.settings.getdict("SUPIL_PLAN"))
        self._allow_private = [p.allow_private for p in plan.site_profiles()]
        self._approved_hosts: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafetyMiddleware:
        """Scrapy's constructor hook."""
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Raise RefusedRequest for a URL that must not be fetched."""
        site = request.meta.get("site")
        host = request.url.split("://", 1)[-1].split("/", 1)[0]
        if site is None and host in self._approved_hosts:
            return  # e.g. robots.txt of a host a site request was already allowed to reach
        allow = self._allow_private[site] if site is not None else False
        hostname = urlsplit(request.url).hostname or ""
        reason = GuardedResolver.refusals.get(hostname) if not allow else None
        reason = reason or self.guard.refusal(request.url, allow_private=allow)
        if reason:
            raise RefusedRequest(reason)
        self._approved_hosts.add(host)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each one waiting longer (base * 2^n seconds, capped) before it is sent."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("SUPIL_RETRY_BACKOFF_BASE")
        self.cap = settings.getfloat("SUPIL_RETRY_BACKOFF_MAX")

    async def _wait(self, retry: Request | None) -> None:
        if retry is not None and self.base > 0:
            delay = min(self.cap, self.base * 2 ** (retry.meta.get("retry_times", 1) - 1))
            from twisted.internet import reactor, task  # only once Scrapy has installed its reactor

            await maybe_deferred_to_future(task.deferLater(reactor, delay, lambda: None))

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """Retry retryable status codes after a backoff."""
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result)
        return result

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        """Retry network errors after a backoff."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result)
        return result


class KoreanDecodingMiddleware:
    """Re-decodes text responses that are not valid UTF-8 (EUC-KR/CP949 pages, lying headers)."""

    def process_response(self, request: Request, response: Response) -> Response:
        """Return the response with a body Scrapy decodes correctly."""
        if not isinstance(response, TextResponse):
            return response
        body = response.body
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if response.encoding in ("utf-8", "ascii", "us-ascii"):
                return response
            return response.replace(encoding="utf-8")
        declared = charset_from_content_type(response.headers.get(b"Content-Type", b"").decode("latin-1"))
        text, used = decode_html(body, declared)
        logger.debug("decoded %s as %s (declared %r)", response.url, used, declared)
        return response.replace(body=text.encode("utf-8"), encoding="utf-8")


class JournalDupeFilter(BaseDupeFilter):
    """Drops requests already made in this run, and articles the journal says the crawl already has.

    Kept in memory on purpose: Scrapy's persisted fingerprints would also cover requests that were
    in flight when a crawl stopped, and those must be fetched again on resume.
    """

    def __init__(self, have: set[str]) -> None:
        self.have = have
        self.seen: set[str] = set()
        self.skipped = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JournalDupeFilter:
        """Load the journal named by the crawl plan."""
        plan = CrawlPlan(**crawler.settings.getdict("SUPIL_PLAN"))
        return cls(Journal(plan.journal).read().urls)

    def request_seen(self, request: Request) -> bool:
        """True if the request must not be made."""
        key = canonical_url(request.url)
        if key in self.have:
            self.skipped += 1
            return True
        if key in self.seen:
            return True
        self.seen.add(key)
        return False

"""The `essay` spider: walks listings and JSON listing endpoints of each site profile, extracts articles."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from services.crawler.extract import content_hash, extract_article
from services.crawler.profiles import Profile
from services.crawler.scrapy_project.items import EssayPage
from services.crawler.scrapy_project.middlewares import RefusedRequest
from services.crawler.scrapy_project.plan import CrawlPlan
from services.crawler.scrapy_project.resolver import GuardedResolver
from services.crawler.scrapy_project.signals import url_refused

logger = logging.getLogger(__name__)


class EssaySpider(Spider):
    """One spider for every site of a crawl plan; request meta `site` says whose request it is."""

    name = "essay"

    def __init__(self, profiles: list[Profile] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.profiles = profiles or []
        self._articles = [re.compile(p.article_pattern) if p.article_pattern else None for p in self.profiles]
        self._follows = [re.compile(p.follow_pattern) if p.follow_pattern else None for p in self.profiles]
        self._domains = [p.domains() for p in self.profiles]
        self._scheduled: list[set[str]] = [set() for _ in self.profiles]

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> EssaySpider:
        """Build the spider from the crawl plan in the settings."""
        if "profiles" not in kwargs:
            kwargs["profiles"] = CrawlPlan(**crawler.settings.getdict("SUPIL_PLAN")).site_profiles()
        return super().from_crawler(crawler, *args, **kwargs)

    # ---- requests --------------------------------------------------------------------------

    def _meta(self, site: int, kind: str, depth: int, **extra: Any) -> dict[str, Any]:
        polite = self.profiles[site].politeness
        meta: dict[str, Any] = {
            "site": site,
            "kind": kind,
            "d": depth,
            "download_timeout": polite.download_timeout,
            "download_maxsize": polite.max_response_bytes,
            "max_retry_times": polite.retry_times,
        }
        if not polite.obey_robots_txt:
            meta["dont_obey_robotstxt"] = True
        if not polite.autothrottle:
            meta["autothrottle_dont_adjust_delay"] = True
        meta.update(extra)
        return meta

    def _request(
        self, url: str, site: int, kind: str, depth: int, *, dont_filter: bool = False, **extra: Any
    ) -> Request | None:
        """A request for one site, or None once the site's page budget is spent."""
        scheduled = self._scheduled[site]
        if url in scheduled and not dont_filter:
            return None
        if len(scheduled) >= self.profiles[site].max_pages:
            self.crawler.stats.inc_value("supil/budget_exhausted")
            return None
        scheduled.add(url)
        callback = self.parse_json if kind == "json" else self.parse
        return Request(
            url,
            callback=callback,
            errback=self.failed,
            meta=self._meta(site, kind, depth, **extra),
            headers={"User-Agent": self.profiles[site].politeness.user_agent},
            priority=1 if kind == "article" else 0,  # finish articles before opening more listings
            dont_filter=dont_filter,
        )

    async def start(self) -> AsyncIterator[Any]:
        """Start URLs and the first page of each JSON listing, for every site."""
        for site, profile in enumerate(self.profiles):
            for url in profile.start_urls:
                kind = "article" if self._is_article(site, url) else "page"
                request = self._request(url, site, kind, 0, dont_filter=True)
                if request is not None:
                    yield request
            for index, listing in enumerate(profile.json_listings):
                url = listing.url_template.replace("{page}", str(listing.first_page))
                request = self._request(url, site, "json", 0, dont_filter=True, listing=index, page=0)
                if request is not None:
                    yield request

    def _is_article(self, site: int, url: str) -> bool:
        pattern = self._articles[site]
        return True if pattern is None else bool(pattern.search(url))

    def _in_scope(self, site: int, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self._domains[site])

    # ---- callbacks -------------------------------------------------------------------------

    def parse(self, response: Response) -> Iterator[Any]:
        """An HTML page: an article (yield the item) and/or a listing (follow its links)."""
        if not isinstance(response, TextResponse):
            return
        site = response.meta["site"]
        if response.meta["kind"] == "article":
            item = self.article(response, site)
            if item is not None:
                yield item
        yield from self.follow(response, site)

    def article(self, response: TextResponse, site: int) -> EssayPage | None:
        """Extract one article page into an item (pipelines validate and deduplicate it)."""
        profile = self.profiles[site]
        extracted = extract_article(response.text, response.url, profile.selectors, response.selector)
        canonical = response.css("link[rel=canonical]::attr(href)").get()
        if canonical:
            canonical = response.urljoin(canonical)
            if urlsplit(canonical).hostname != urlsplit(response.url).hostname:
                canonical = None  # a cross-host canonical link is not the page's own address
        return EssayPage(
            url=response.url,
            canonical_url=canonical or response.url,
            source=profile.name,
            title=extracted.title,
            author=extracted.author,
            published=extracted.published,
            tags=extracted.tags,
            text=extracted.text,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            status=response.status,
            content_hash=content_hash(extracted.text),
        )

    def follow(self, response: TextResponse, site: int) -> Iterator[Request]:
        """Requests for the in-scope links that are articles or match the follow pattern."""
        depth = response.meta.get("d", 0) + 1
        max_depth = self.profiles[site].max_depth
        if max_depth and depth > max_depth:
            return
        follow = self._follows[site]
        for href in response.css("a::attr(href)").getall():
            url = urldefrag(response.urljoin(href.strip()))[0]
            if not self._in_scope(site, url):
                continue
            if self._articles[site] is not None and self._articles[site].search(url):
                kind = "article"
            elif self._articles[site] is None and follow is None:
                kind = "article"  # no patterns at all (generic): every in-scope page is a candidate
            elif follow is not None and follow.search(url):
                kind = "page"
            else:
                continue
            request = self._request(url, site, kind, depth)
            if request is not None:
                yield request

    def parse_json(self, response: Response) -> Iterator[Request]:
        """One page of a JSON listing: article requests for its items, then the next page."""
        site = response.meta["site"]
        listing = self.profiles[site].json_listings[response.meta["listing"]]
        try:
            data: Any = json.loads(response.body)
            for key in filter(None, listing.items_path.split(".")):
                data = data[int(key)] if isinstance(data, list) else data[key]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            self.crawler.stats.inc_value("errors/json")
            logger.warning("%s: not a JSON listing with %r: %s", response.url, listing.items_path, exc)
            return
        if not isinstance(data, list) or not data:
            return
        depth = response.meta.get("d", 0) + 1
        for entry in data:
            if not isinstance(entry, dict):
                continue
            if "{" in listing.url_field:
                try:
                    target = listing.url_field.format(**entry)
                except (KeyError, IndexError, ValueError):
                    continue
            else:
                target = entry.get(listing.url_field)
            if not isinstance(target, str) or not target:
                continue
            url = urldefrag(response.urljoin(target))[0]
            request = self._request(url, site, "article", depth)
            if request is not None:
                yield request
        page = response.meta["page"] + 1
        if page < listing.max_pages:
            url = listing.url_template.replace("{page}", str(listing.first_page + page))
            request = self._request(
                url, site, "json", response.meta.get("d", 0), listing=response.meta["listing"], page=page
            )
            if request is not None:
                yield request

    def failed(self, failure: Failure) -> None:
        """Errback: report refusals per URL and count errors by kind."""
        request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        rebound = GuardedResolver.refusals.get(urlsplit(request.url).hostname or "")
        if failure.check(DNSLookupError, CannotResolveHostError) and rebound:
            stats.inc_value("supil/refused")
            self.crawler.signals.send_catch_log(url_refused, url=request.url, reason=rebound)
            return
        if failure.check(RefusedRequest) or (
            failure.check(IgnoreRequest) and "robots.txt" in str(failure.value)
        ):
            reason = str(failure.value) if failure.check(RefusedRequest) else "disallowed by robots.txt"
            stats.inc_value("supil/refused")
            self.crawler.signals.send_catch_log(url_refused, url=request.url, reason=reason)
            return
        if failure.check(IgnoreRequest):
            stats.inc_value("errors/ignored")
        elif failure.check(HttpError):
            stats.inc_value(f"errors/http_{failure.value.response.status}")
        elif failure.check(TimeoutError, TCPTimedOutError):
            stats.inc_value("errors/timeout")
        elif failure.check(DNSLookupError, CannotResolveHostError):  # Scrapy 2.19 wraps the former
            stats.inc_value("errors/dns")
        elif failure.check(ConnectionRefusedError):
            stats.inc_value("errors/connection")
        else:
            stats.inc_value(f"errors/{failure.type.__name__}")
        logger.info("failed %s: %s", request.url, failure.getErrorMessage())

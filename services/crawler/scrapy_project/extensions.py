"""The extension that reports a crawl's progress and refusals to the service, and takes its stop order."""

from __future__ import annotations

import logging
import os
from multiprocessing.connection import Connection
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from services.crawler.scrapy_project.plan import CrawlPlan
from services.crawler.scrapy_project.signals import url_refused

logger = logging.getLogger(__name__)

REPORT_INTERVAL_S = 0.5


def progress_counters(stats: dict[str, Any]) -> dict[str, float]:
    """The figures a crawl job reports, from Scrapy's stats."""
    counters = {
        "pages": stats.get("response_received_count", 0),
        "kept": stats.get("supil/kept", 0),
        "duplicates": stats.get("supil/duplicates", 0),
        "invalid": stats.get("supil/invalid", 0),
        "refused": stats.get("supil/refused", 0),
        "bytes": stats.get("downloader/response_bytes", 0),
        "retries": stats.get("retry/count", 0),
    }
    for key, value in stats.items():
        if key.startswith("errors/"):
            counters["errors." + key.removeprefix("errors/")] = value
    return {k: float(v) for k, v in counters.items()}


class CrawlReporter:
    """Sends progress and refused URLs over the plan's connection; stops the crawl when told to.

    Without a connection (a bare `scrapy crawl`) refusals are logged instead.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        plan = CrawlPlan(
            **crawler.settings.getdict(
                "SUPIL_PLAN", {"job_id": "", "workspace": "", "output": "", "workdir": ""}
            )
        )
        self.conn = Connection(os.dup(plan.progress_fd)) if plan.progress_fd >= 0 else None
        self.loop: task.LoopingCall | None = None
        self.stopping = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.refused, signal=url_refused)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReporter:
        """Scrapy's constructor hook."""
        return cls(crawler)

    def _send(self, message: dict[str, Any]) -> bool:
        if self.conn is None:
            return True
        try:
            self.conn.send(message)
        except OSError:
            return False
        return True

    def spider_opened(self, spider: Any) -> None:
        """Start the report loop."""
        if self.conn is not None:
            self.loop = task.LoopingCall(self.tick)
            self.loop.start(REPORT_INTERVAL_S, now=True)

    def tick(self) -> None:
        """Send a progress report; act on a stop order or on the parent having gone away."""
        alive = self._send(
            {"type": "progress", "counters": progress_counters(self.crawler.stats.get_stats())}
        )
        reason = None
        try:
            while self.conn is not None and self.conn.poll():
                if self.conn.recv() == "stop":
                    reason = "cancelled"
        except (EOFError, OSError):
            alive = False
        if not alive:
            reason = "orphaned"
        if reason and not self.stopping:
            self.stopping = True
            logger.warning("stopping the crawl: %s", reason)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def refused(self, url: str, reason: str) -> None:
        """Report one refused URL."""
        if self.conn is None:
            logger.warning("refused %s: %s", url, reason)
        self._send({"type": "refused", "url": url, "reason": reason})

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Send the final figures and the close reason."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self._send(
            {
                "type": "closed",
                "reason": reason,
                "counters": progress_counters(self.crawler.stats.get_stats()),
            }
        )

"""The crawl process: one spawned OS process per crawl, because Twisted's reactor cannot restart."""

from __future__ import annotations

import fcntl
import logging
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from services.crawler.scrapy_project.plan import CrawlPlan, crawl_settings
from services.runtime.logs import setup_logging

logger = logging.getLogger(__name__)

LOCK_WAIT_S = 30.0
CLEAN_MARKER = "clean"


def _lock(workdir: Path) -> Any:
    """Hold the job folder's lock: an orphaned crawl of the same job may still be winding down."""
    fh = (workdir / "lock").open("a")
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"another crawl process holds {workdir}/lock") from None
            time.sleep(0.2)


def crawl_main(plan_fields: dict[str, Any], conn: Connection) -> None:
    """Entry point of the spawned crawl process: run the essay spider over the plan, then exit."""
    plan = CrawlPlan(**plan_fields)
    plan.progress_fd = conn.fileno()
    setup_logging("crawler", plan.log_format, plan.log_level)
    workdir = Path(plan.workdir)
    lock = _lock(workdir)
    try:
        # Imported here: the service process itself never loads Twisted's reactor.
        from scrapy.crawler import CrawlerProcess
        from scrapy.settings import Settings

        from services.crawler.scrapy_project.spiders.essay import EssaySpider

        settings = Settings()
        settings.setdict(crawl_settings(plan), priority="cmdline")
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # ours is set up above
        process = CrawlerProcess(settings)
        for handler in logging.getLogger().handlers:  # Scrapy sets its loggers' levels; filter at our handler
            handler.setLevel(plan.log_level)
        process.crawl(EssaySpider)
        process.start()
        # Scrapy closed the crawl itself (finished, cancelled, or stopped by a signal): JOBDIR holds
        # a consistent queue. After a kill it may not, and the next attempt starts it afresh.
        (workdir / CLEAN_MARKER).write_text("1")
    finally:
        lock.close()
        conn.close()


def plan_fields(plan: CrawlPlan) -> dict[str, Any]:
    """The plan as plain data, for the spawned process."""
    return asdict(plan)

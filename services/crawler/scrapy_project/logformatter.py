"""Scrapy log formatting: dropped items (duplicates, short pages) are routine, so DEBUG and one line."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class QuietDropsLogFormatter(LogFormatter):
    """Logs a dropped item as its URL and the reason, at DEBUG."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        """One short DEBUG line per dropped item."""
        return {
            "level": logging.DEBUG,
            "msg": "dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }

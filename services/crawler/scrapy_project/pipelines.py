"""Item pipelines, one job each: validate, canonicalize the URL, drop duplicates, write the corpus."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from services.crawler.extract import hangul_ratio
from services.crawler.scrapy_project.items import EssayPage
from services.crawler.scrapy_project.journal import Journal, compile_corpus
from services.crawler.scrapy_project.plan import CrawlPlan
from services.crawler.urls import canonical_url
from services.runtime import ArtifactStore, Document
from services.runtime.artifacts import atomic_write_text

logger = logging.getLogger(__name__)

# Close reasons after which the crawl process must not write the artifact: its parent is gone and
# a resumed attempt will write it.
NO_ARTIFACT_REASONS = {"orphaned"}


def _plan(crawler: Crawler) -> CrawlPlan:
    return CrawlPlan(**crawler.settings.getdict("SUPIL_PLAN"))


class ValidatePipeline:
    """Drops pages that are not articles worth keeping: error status, no text, too short, not Korean."""

    def __init__(self, crawler: Crawler) -> None:
        self.profiles = {p.name: p for p in _plan(crawler).site_profiles()}
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        """Scrapy's constructor hook."""
        return cls(crawler)

    def process_item(self, item: EssayPage) -> EssayPage:
        """Return the item or raise DropItem saying why."""
        profile = self.profiles[item.source]
        reason = ""
        if item.status != 200:
            reason = f"status {item.status}"
        elif not item.text.strip():
            reason = "no text extracted"
        elif len(item.text) < profile.min_text_chars:
            reason = f"text shorter than {profile.min_text_chars} characters"
        elif hangul_ratio(item.text) < profile.min_hangul_ratio:
            reason = f"Hangul ratio below {profile.min_hangul_ratio:.2f}"
        if reason:
            self.stats.inc_value("supil/invalid")
            raise DropItem(f"invalid: {reason}")
        return item


class CanonicalUrlPipeline:
    """Sets the item's canonical URL (from rel=canonical or its own URL), spelled one way."""

    def process_item(self, item: EssayPage) -> EssayPage:
        """Return the item with canonical_url normalized."""
        item.canonical_url = canonical_url(item.canonical_url or item.url)
        return item


class DuplicatePipeline:
    """Drops an article seen before: the same canonical URL, or the same text under another URL."""

    def __init__(self, crawler: Crawler) -> None:
        state = Journal(_plan(crawler).journal).read()
        self.urls = {canonical_url(d.extra.get("canonical_url", d.url)) for d in state.docs}
        self.hashes = set(state.hashes)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicatePipeline:
        """Start from what the journal already holds (a resumed crawl)."""
        return cls(crawler)

    def process_item(self, item: EssayPage) -> EssayPage:
        """Return the item or raise DropItem for a duplicate."""
        if item.canonical_url in self.urls:
            self.stats.inc_value("supil/duplicates")
            raise DropItem(f"duplicate: canonical URL {item.canonical_url} already kept")
        if item.content_hash in self.hashes:
            self.stats.inc_value("supil/duplicates")
            raise DropItem(f"duplicate: same text as a page already kept ({item.url})")
        self.urls.add(item.canonical_url)
        self.hashes.add(item.content_hash)
        return item


class CorpusPipeline:
    """Appends kept documents to the journal as they come; writes the corpus artifact at the end."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.plan = _plan(crawler)
        self.journal = Journal(self.plan.journal)
        self.kept = 0
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CorpusPipeline:
        """Scrapy's constructor hook."""
        return cls(crawler)

    def process_item(self, item: EssayPage) -> EssayPage:
        """Record the document durably (flushed to the journal)."""
        digest = hashlib.sha256(item.canonical_url.encode("utf-8")).hexdigest()[:16]
        doc = Document(
            id=f"{item.source}-{digest}",
            text=item.text,
            url=item.url,
            source=item.source,
            title=item.title,
            author=item.author,
            published=item.published,
            tags=list(item.tags),
            extra={
                "canonical_url": item.canonical_url,
                "fetched_at": item.fetched_at,
                "http_status": item.status,
                "content_hash": item.content_hash,
            },
        )
        self.journal.add_doc(doc, item.canonical_url, item.content_hash)
        self.kept += 1
        self.crawler.stats.inc_value("supil/kept")
        return item

    def item_dropped(self, item: Any, response: Any, exception: Exception, spider: Any = None) -> None:
        """Remember dropped articles too, so a resumed crawl does not fetch them again."""
        if isinstance(item, EssayPage):
            self.journal.add_dropped(item.url, canonical_url(item.canonical_url or item.url), str(exception))

    def close_spider(self) -> None:
        """Close the journal file."""
        self.journal.close()

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Compile the journal into the corpus artifact (the whole journal, earlier attempts included)."""
        if reason in NO_ARTIFACT_REASONS:
            logger.warning(
                "crawl %s closed (%s): the corpus artifact is left to the next attempt",
                self.plan.job_id,
                reason,
            )
            return
        self.journal.close()
        store = ArtifactStore(self.plan.workspace)
        entry = compile_corpus(store, self.plan.journal, self.plan.output, self.plan.job_id)
        self.crawler.stats.set_value("supil/corpus_records", entry.records)
        atomic_write_text(
            self.plan.result_path,
            json.dumps(
                {
                    "reason": reason,
                    "output": entry.name,
                    "records": entry.records,
                    "pages": self.crawler.stats.get_value("response_received_count", 0),
                }
            ),
        )
        logger.info(
            "crawl %s closed (%s): %s holds %d documents", self.plan.job_id, reason, entry.name, entry.records
        )

"""The crawl journal: every kept document and every dropped article, appended as it happens.

It is what makes a crawl resumable after a kill: a new attempt reads it to skip what it already has
and to keep deduplicating against it, and the corpus artifact is compiled from it (also when the
crawl process died, so no written item is lost).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime import ArtifactStore, Document
from services.runtime.artifacts import ArtifactEntry
from services.runtime.corpus import CorpusWriter

logger = logging.getLogger(__name__)


@dataclass
class JournalState:
    """What a journal says the crawl already has."""

    docs: list[Document] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)  # canonical URLs fetched and decided (kept or dropped)
    hashes: set[str] = field(default_factory=set)  # content hashes of kept documents


class Journal:
    """An append-only JSON Lines file; each line is flushed so a killed process loses none."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = None

    def read(self) -> JournalState:
        """Everything recorded so far; a torn last line (a kill mid-write) is ignored."""
        state = JournalState()
        if not self.path.exists():
            return state
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("k") == "doc":
                    doc = Document.from_record(record["doc"])
                    if record["canonical"] in state.urls or record["hash"] in state.hashes:
                        continue
                    state.docs.append(doc)
                    state.hashes.add(record["hash"])
                state.urls.add(record["canonical"])
                if record.get("url"):
                    state.urls.add(record["url"])
        return state

    def _open(self):
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        return self._fh

    def add_doc(self, doc: Document, canonical: str, content_hash: str) -> None:
        """Record a kept document."""
        self._write(
            {"k": "doc", "canonical": canonical, "hash": content_hash, "doc": json.loads(doc.to_json())}
        )

    def add_dropped(self, url: str, canonical: str, reason: str) -> None:
        """Record an article that was fetched but not kept, so a resumed crawl does not fetch it again."""
        self._write({"k": "dropped", "url": url, "canonical": canonical, "reason": reason})

    def _write(self, record: dict) -> None:
        fh = self._open()
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def compile_corpus(store: ArtifactStore, journal: Path, output: str, job_id: str) -> ArtifactEntry:
    """Write the journal's documents as the corpus artifact (atomic, with its manifest entry)."""
    state = Journal(journal).read()
    with store.open_file(output, job_id=job_id, role="corpus") as out:
        writer = CorpusWriter(out.fh)
        for doc in state.docs:
            writer.write(doc)
        writer.close()
        out.records = writer.count
    assert out.entry is not None
    return out.entry
